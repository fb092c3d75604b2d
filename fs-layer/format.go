package main

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// short is a digest as docker shows it: the algorithm and 12 hex digits.
func short(h v1.Hash) string { return h.Algorithm + ":" + h.Hex[:12] }

// trunc cuts s to n characters, the last one an ellipsis.
func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// human is a size in bytes as 1.5 KiB, 3.0 MiB, ….
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
