// Package hugeheap puts a ctrkit command's Go heap on transparent huge
// pages as the process starts. It has no API: internal/cli imports it for
// its init, so every command built on cli has it, and it runs before any
// package that allocates much.
//
// Why. A ctrkit command lives for tens of milliseconds, and much of what it
// costs is the kernel's: the first touch of every page is a page fault. A
// command touches about 400 pages of heap (1.6 MB: the runtime's start,
// kong's model of the command line, the runtime spec's JSON, the work). On a
// virtual machine whose hypervisor keeps its own copy of the page tables, a
// fault costs 15-25 µs, so 6-10 ms per process, and `ctr-run --rm` starts
// seven. One 2 MB huge page is one fault, or none.
//
// How. The kernel backs anonymous memory with huge pages where
// madvise(MADV_HUGEPAGE) asked for them and
// /sys/kernel/mm/transparent_hugepage/enabled says "madvise" or "always"
// (Linux 2.6.38). The Go runtime maps its heap in 4 MB pieces without
// asking (GODEBUG=disablethp=1 asks the opposite), and since Go 1.26 the
// heap starts at a random page of its first piece. By the time the first
// package's init runs the runtime has used part of that piece, page by
// page. So init marks the heap's arena MADV_HUGEPAGE: every 2 MB of it
// the heap grows into from then on comes as one huge page, at its first
// fault. A C program would do the same with one call:
//
//	madvise(heap, len, MADV_HUGEPAGE);   // faults from now on take 2 MB
//
// It once also asked madvise(MADV_COLLAPSE) (Linux 6.1) to move the 2 MB
// the heap was in onto a huge page at once. That call first drains every
// CPU's page lists and waits for it (lru_add_drain_all), and in a run,
// where the other CPU is busy with the next stage, the wait was up to 6
// ms: on the machine of docs/bench.md's last run `ctr-run --rm --network
// none busybox true` took 40.2-41.1 ms with it and 37.1-37.2 without, and
// 50 against 44 ms of CPU.
//
// A mark holds for the mappings that exist; the piece the runtime maps next
// comes without it. So when less than 1 MB of the piece is left, init first
// fills it with one object it never touches: the runtime maps the next
// piece at once, and init marks it before anything is in it.
//
// The runtime's own start, before any init, still faults page by page
// (about 100 faults): no Go code of ours runs earlier; so does the rest
// of the 2 MB the heap is in at init, where 4 KB pages are already.
//
// What it costs: the heap is resident in steps of 2 MB, where a command
// would have touched about 1.6 MB in pages of 4 KB; the filler counts
// towards the heap's size until the first collection (at 4 MB), which
// our commands seldom reach. Commands that exit in milliseconds, or a
// daemon, can afford it; what stays resident per container cannot, so
// ctr-run-supervise does not link internal/cli and keeps 4 KB pages, and
// ns-enter starts its stage 1, whose memory is the container's, with
// GODEBUG=disablethp=1. It does nothing when the machine says "never" or
// when GODEBUG has disablethp=1. A detached container with a terminal
// keeps ns-enter, which then holds about 1 MiB more.
//
// It imports only syscall and unsafe, so Go initializes it right after
// the runtime and syscall; os would come later.
package hugeheap

import (
	"syscall"
	"unsafe"
)

const (
	hugePage = 2 << 20
	// The runtime's heap on 64-bit Linux: arenas of 64 MB, reserved
	// aligned and mapped for use in aligned pieces of 4 MB
	// (pallocChunkBytes), handed out in pages of 8 KB.
	arena    = 64 << 20
	piece    = 4 << 20
	heapPage = 8 << 10
	// thpSetting is the machine's policy: "always [madvise] never".
	thpSetting = "/sys/kernel/mm/transparent_hugepage/enabled"
)

// marked is the heap's top when init marked it, or 0 if init did
// nothing: tests read it.
var marked uintptr

// probe holds what init allocates to find the heap's top, so that it is
// made on the heap and not on the stack.
var probe []byte

func init() {
	if disabled() {
		return
	}
	top := heapTop()
	if end := top&^(piece-1) + piece; end-top < piece/4 {
		// The heap is about to outgrow its piece: fill the rest (never
		// touched, so it costs address space, not memory), and the
		// runtime maps the next piece now, to be marked below.
		probe = make([]byte, end-top+heapPage)
		top = heapTop()
	}
	probe = nil
	// Parts of the arena not mapped yet give ENOMEM; the mapped ones are
	// marked all the same.
	syscall.Syscall(syscall.SYS_MADVISE, top&^(arena-1), arena, syscall.MADV_HUGEPAGE)
	marked = top
}

// heapTop is about where the heap grows next. An object of more than 32 KB
// gets pages of its own, cut from the lowest free ones (through the
// processor's page cache, 512 KB at a time): just above what the heap has
// used so far. Fresh from the kernel, they are not touched.
func heapTop() uintptr {
	probe = make([]byte, 64<<10)
	return uintptr(unsafe.Pointer(unsafe.SliceData(probe)))
}

// disabled reports whether the user (GODEBUG=disablethp=1) or the machine
// (THP "never", or no THP at all) said no to huge pages.
func disabled() bool {
	if v, ok := syscall.Getenv("GODEBUG"); ok && setting(v, "disablethp") == "1" {
		return true
	}
	fd, err := syscall.Open(thpSetting, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer syscall.Close(fd)
	var buf [64]byte
	n, _ := syscall.Read(fd, buf[:])
	return n <= 0 || contains(string(buf[:n]), "[never]")
}

// setting is the value of key in a GODEBUG list ("a=1,b=2"); the last
// one counts, as for the runtime.
func setting(list, key string) string {
	value := ""
	start := 0
	for i := 0; i <= len(list); i++ {
		if i < len(list) && list[i] != ',' {
			continue
		}
		field := list[start:i]
		start = i + 1
		if len(field) > len(key) && field[:len(key)] == key && field[len(key)] == '=' {
			value = field[len(key)+1:]
		}
	}
	return value
}

// contains is strings.Contains, which would make this package initialize
// after strings and unicode.
func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
