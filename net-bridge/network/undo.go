package network

// undo is a stack of steps that take back what an attach made, so a
// failure leaves nothing half-made.
type undo []func()

func (u *undo) push(f func()) { *u = append(*u, f) }

// run takes back every step, the newest first.
func (u undo) run() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}
