package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"ctrkit/internal/explain"
)

// A --rm run's explain log, cut short; the undo commands run at once, so
// their lines come in any order.
const runLog = `[ctr-run] # pipe(); fork(); execve() ×4: echo '{"ociVersion":"1.3.0","annotations":{"ctrkit.id":"36314ef42034"}}' | img-pull --pull missing busybox | fs-layer mount --name 36314ef42034 | cg-limit --name 36314ef42034 | net-bridge attach --id 36314ef42034 > /S/36314ef42034/config.json
[img-pull] # busybox is in the store: no pull
[fs-layer] mkdir("/R/containers/36314ef42034/upper", 0755)  $ mkdir -p /R/containers/36314ef42034/upper
[fs-layer] mkdir("/R/containers/36314ef42034/work", 0755)  $ mkdir -p /R/containers/36314ef42034/work
[fs-layer] mount("overlay", "/S/36314ef42034/rootfs", "overlay", 0, "lowerdir=l/f6")  $ mount -t overlay overlay /S/36314ef42034/rootfs
[cg-limit] mkdir("/sys/fs/cgroup/ctrkit/36314ef42034", 0755)  $ mkdir /sys/fs/cgroup/ctrkit/36314ef42034
[net-bridge] RTM_NEWLINK bridge "ctrkit0"  $ ip link add ctrkit0 type bridge
[net-bridge] RTM_NEWADDR 10.213.0.1/24 dev "ctrkit0"  $ ip addr add 10.213.0.1/24 dev ctrkit0
[net-bridge] RTM_NEWLINK "ctrkit0" IFF_UP  $ ip link set ctrkit0 up
[net-bridge] write("/S/36314ef42034/hostname")  $ cat > /S/36314ef42034/hostname <<'EOF'
[net-bridge] > 36314ef42034
[net-bridge] > EOF
[ctr-run] # fork(); execve("/bin/ns-enter"): ns-enter --spec /S/36314ef42034/config.json -- true
[ns-enter] clone(CLONE_NEWPID|CLONE_NEWNS|SIGCHLD)  $ unshare --fork --pid --mount bash
[ns-enter] pivot_root(".", ".")  $ pivot_root . . && hash -r
[ns-enter] execve("/bin/true", ["true"])  $ exec true
[ns-enter] # the container's process 21770 ended with status 0
[ctr-run] fork(); execve("/bin/net-bridge")  $ net-bridge detach 36314ef42034
[ctr-run] fork(); execve("/bin/cg-limit")  $ cg-limit rm 36314ef42034
`

func render(t *testing.T, log string) string {
	t.Helper()
	d := &diagramRecorder{root: "/R", state: "/S"}
	for _, s := range strings.Split(strings.TrimSpace(log), "\n") {
		l, ok := explain.Parse(s)
		if !ok {
			t.Fatalf("Parse(%q): not an explain line", s)
		}
		d.lines = append(d.lines, l)
	}
	var b strings.Builder
	d.render(&b)
	return b.String()
}

func TestDiagramRender(t *testing.T) {
	got := render(t, runLog+"[net-bridge] RTM_DELLINK \"ck-36314ef42034\"  $ ip link del ck-36314ef42034\n"+
		"[cg-limit] rmdir(\"/sys/fs/cgroup/ctrkit/36314ef42034\")  $ rmdir /sys/fs/cgroup/ctrkit/36314ef42034\n")
	for _, want := range []string{
		"sequenceDiagram\n  participant ctr_run as ctr-run\n  participant img_pull as img-pull\n",
		"  participant container as container (ns-enter's child, then the command)\n  participant kernel\n",
		"  opt create: the pipeline",
		"    ctr_run-)fs_layer: fork()#59; execve(): fs-layer mount --name ID\n",
		"    fs_layer->>kernel: mkdir ×2 (ROOT/containers/ID/…)\n", // grouped, paths short
		"    fs_layer-->>cg_limit: the spec, on the pipe\n",
		"    net_bridge->>kernel: RTM_NEWLINK ×2 + RTM_NEWADDR ×1: ip link add, ip addr add, ip link set\n",
		"    net_bridge-->>ctr_run: the spec: STATE/ID/config.json\n",
		"    ns_enter-)container: clone(CLONE_NEWPID|CLONE_NEWNS|SIGCHLD)\n",
		"    container->>kernel: pivot_root(\".\", \".\")\n",
		"    Note over container: the command ended with status 0\n",
		"  opt remove (--rm)",
		"    cg_limit->>kernel: rmdir(\"/sys/fs/cgroup/ctrkit/ID\")\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("render() lacks %q; got\n%s", want, got)
		}
	}
	if strings.Contains(got, "36314ef42034") || strings.Contains(got, "EOF") {
		t.Errorf("render() shows the id or a file's contents:\n%s", got)
	}
	// The undo commands' lines in the other order draw the same diagram.
	again := render(t, runLog+"[cg-limit] rmdir(\"/sys/fs/cgroup/ctrkit/36314ef42034\")  $ rmdir /sys/fs/cgroup/ctrkit/36314ef42034\n"+
		"[net-bridge] RTM_DELLINK \"ck-36314ef42034\"  $ ip link del ck-36314ef42034\n")
	if again != got {
		t.Errorf("render() depends on the order parallel steps came in:\n%s\nvs\n%s", got, again)
	}
}

func TestGroupSteps(t *testing.T) {
	var steps []explain.Line
	for _, k := range []string{`mkdir("/a/x")`, `mount("/a/x")`, `mkdir("/a/y")`, `mount("/a/y")`, `chdir("/")`, `write("/c/1")`, `write("/c/2")`} {
		steps = append(steps, explain.Line{Kernel: k})
	}
	var labels []string
	for _, g := range groupSteps(steps) {
		labels = append(labels, g.label(strings.NewReplacer()))
	}
	want := []string{"mkdir ×2 + mount ×2 (/a/…)", `chdir("/")`, "write ×2 (/c/…: 1, 2)"}
	if strings.Join(labels, "|") != strings.Join(want, "|") {
		t.Errorf("groupSteps() labels = %q, want %q", labels, want)
	}
}

// read keeps explain lines and passes the rest on, a partial line at once.
func TestDiagramRead(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &diagramRecorder{stderr: outW, r: r, w: w, done: make(chan struct{})}
	go d.read()
	w.WriteString("[fs-layer] mkdir(\"/x\")  $ mkdir -p /x\nprompt> ")
	got := make([]byte, 64)
	n, _ := outR.Read(got) // the partial line arrives before its end
	if string(got[:n]) != "prompt> " {
		t.Errorf("passed on %q, want %q", got[:n], "prompt> ")
	}
	w.WriteString("typed\n[42] no end")
	w.Close()
	<-d.done
	outW.Close()
	rest, _ := io.ReadAll(outR)
	if string(rest) != "typed\n[42] no end\n" {
		t.Errorf("passed on %q, want %q", rest, "typed\n[42] no end\n")
	}
	if len(d.lines) != 1 || d.lines[0].Call() != "mkdir" {
		t.Errorf("kept %+v, want the mkdir step", d.lines)
	}
}
