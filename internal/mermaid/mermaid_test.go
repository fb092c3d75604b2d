package mermaid

import (
	"strings"
	"testing"
)

func TestLabelAndText(t *testing.T) {
	for _, tc := range []struct{ in, label, text string }{
		{`mkdir("/x", 0755)`, `mkdir(#34;/x#34;, 0755)`, `mkdir("/x", 0755)`},
		{"a; b # c", "a#59; b #35; c", "a#59; b #35; c"},
		{"echo err >&2\nnext", "echo err #62;&2 next", "echo err #62;&2 next"},
		{"<br>", "#60;br#62;", "#60;br#62;"},
	} {
		if got := Label(tc.in); got != tc.label {
			t.Errorf("Label(%q) = %q, want %q", tc.in, got, tc.label)
		}
		if got := Text(tc.in); got != tc.text {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.text)
		}
	}
}

func TestID(t *testing.T) {
	if got, want := ID("ck-3a4b.x"), "ck_3a4b_x"; got != want {
		t.Errorf("ID(%q) = %q, want %q", "ck-3a4b.x", got, want)
	}
}

func TestSequence(t *testing.T) {
	var s Sequence
	s.Participant("ctr-run", "")
	s.Participant("kernel", "Linux")
	s.Participant("ctr-run", "again") // declared once
	s.Frame("create")
	s.Message("ctr-run", "fs-layer", "-)", "fork(); execve()")
	s.Message("fs-layer", "kernel", "->>", `mount("overlay", …)`)
	s.Note("done", "fs-layer")
	var b strings.Builder
	s.WriteTo(&b) // closes the open frame
	want := `sequenceDiagram
  participant ctr_run as ctr-run
  participant kernel as Linux
  participant fs_layer as fs-layer
  opt create
    ctr_run-)fs_layer: fork()#59; execve()
    fs_layer->>kernel: mount("overlay", …)
    Note over fs_layer: done
  end
`
	if b.String() != want {
		t.Errorf("WriteTo() =\n%s\nwant\n%s", b.String(), want)
	}
}

func TestFlowchart(t *testing.T) {
	f := Flowchart{Dir: "LR"}
	f.Subgraph("host", `host "ns"`)
	f.Node("br", Box, "ctrkit0 10.0.0.1/24")
	f.Node("nft", Hex, "table ip ctrkit")
	f.End()
	f.Node("eth0", Round, "eth0")
	f.Edge("br", "<-->", "eth0", "veth pair")
	f.Edge("nft", "-.->", "eth0", "")
	var b strings.Builder
	f.WriteTo(&b)
	want := `flowchart LR
  subgraph host["host #34;ns#34;"]
    br["ctrkit0 10.0.0.1/24"]
    nft{{"table ip ctrkit"}}
  end
  eth0("eth0")
  br <-->|"veth pair"| eth0
  nft -.-> eth0
`
	if b.String() != want {
		t.Errorf("WriteTo() =\n%s\nwant\n%s", b.String(), want)
	}
}
