package pull

// # Pulls that survive a bad network
//
// Registries and the networks in front of them fail in a few ways, and
// each has its answer (docker and containerd do much the same):
//
//   - an answer 500-599 or 429 (too many requests): wait and ask again,
//     a little longer each time (exponential backoff: 0.25 s, 0.5 s, 1 s,
//     2 s…, with some randomness so many clients do not retry in step); a
//     429 or 503 with Retry-After says how long to wait, and we do;
//   - a connection refused, reset or cut in the middle of a blob: the same,
//     and the bytes already received are kept: the next request asks only
//     for the rest (`Range: bytes=N-`, answered with 206 Partial Content;
//     a registry that ignores Range answers 200 and the whole blob);
//   - a registry that stops sending (no bytes for --stall-timeout): the
//     request is cancelled and retried like a cut;
//   - the whole pull taking longer than --timeout: it stops, with an error.
//
// Each blob gets Options.Tries attempts (5, like docker's layer
// downloads); a 404, a 401 or wrong content are not retried, since asking
// again will not change them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// A statusError is an HTTP answer that is not what we asked for.
type statusError struct {
	code       int
	retryAfter time.Duration
	msg        string
}

func (e *statusError) Error() string { return e.msg }

// permanent marks an error not to retry (it hides the cause from
// retryable, which would see a network error).
type permanent struct{ error }

// errStalled is a download that stopped sending bytes.
var errStalled = errors.New("no bytes received")

// copyBuffer is how much of a blob one read from the registry's connection
// may bring: io.Copy's 32 KiB meant two system calls (read, write) per
// 32 KiB, 16,000 for a 250 MB image; with 1 MiB a read takes what the
// socket holds. A cold pull of bench-pull's image: 643 -> 543 ms median
// (256 KiB: 611, 4 MiB: 724; docs/bench.md).
const copyBuffer = 1 << 20

// retryable says whether asking again may help, and how long the server
// asked us to wait (0: our choice).
func retryable(err error) (bool, time.Duration) {
	var se *statusError
	var te *transport.Error
	var pe permanent
	switch {
	case errors.As(err, &pe):
		return false, 0
	case errors.As(err, &te):
		return te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests, 0
	case errors.As(err, &se):
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusRequestTimeout, se.retryAfter
	case errors.Is(err, errStalled), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true, 0
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false, 0
	}
	var nerr net.Error
	var oerr *net.OpError
	return errors.As(err, &nerr) || errors.As(err, &oerr) || strings.Contains(err.Error(), "connection reset"), 0
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

// backoff is the wait before attempt n+1 (n ≥ 1): base·2^(n-1) ± 25 %,
// at most 10 s, or what the server asked for (at most a minute).
func backoff(base time.Duration, n int, asked time.Duration) time.Duration {
	if asked > 0 {
		return min(asked, time.Minute)
	}
	d := min(base<<(n-1), 10*time.Second)
	return d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
}

// withRetries runs try until it succeeds, fails for good, or has had
// opt.Tries attempts; between attempts it tells retry and waits.
func withRetries(ctx context.Context, opt Options, retry func(n int, err error, wait time.Duration), try func() error) error {
	tries := opt.Tries
	if tries <= 0 {
		tries = 5
	}
	base := opt.Backoff
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	for n := 1; ; n++ {
		err := try()
		if err == nil {
			return nil
		}
		ok, asked := retryable(err)
		if !ok || ctx.Err() != nil {
			return err
		}
		if n == tries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, tries)
		}
		wait := backoff(base, n, asked)
		retry(n, err, wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// fetchBlob downloads blob b into the store, once for all the pulls that
// want it at the same time (store.Ingest), resuming a partial download.
// It says whether it downloaded the blob (false: another pull did).
func fetchBlob(ctx context.Context, st *store.Store, reg *registry, b v1.Descriptor, kind string, bar Bar, opt Options) (bool, error) {
	log := opt.Log
	ing, err := st.Ingest(ctx, b.Digest, b.Size)
	if err != nil {
		return false, err
	}
	defer ing.Close()
	if ing.Waited {
		log.Step(fmt.Sprintf("flock(oci.tmp/%s.lock): waited for another pull writing this %s", b.Digest.Hex, kind),
			"flock "+explain.Quote(st.Root+"/oci.tmp/"+b.Digest.Hex+".lock")+" true")
	}
	if ing.Stored {
		log.Note("%s %s was stored meanwhile by another pull: not downloaded", kind, b.Digest)
		return false, nil
	}
	if ing.Offset > 0 {
		log.Note("%s %s: %d of %d bytes kept from an earlier pull; asking for the rest", kind, b.Digest, ing.Offset, b.Size)
	}
	retried := false
	notify := func(n int, err error, wait time.Duration) {
		log.Note("%s %s: attempt %d failed: %v; retrying in %s", kind, b.Digest, n, err, wait.Round(time.Millisecond))
		retried = true
		if r, ok := bar.(interface {
			Retry(n int, err error, wait time.Duration, offset int64)
		}); ok {
			r.Retry(n, err, wait, ing.Offset)
		}
	}
	err = withRetries(ctx, opt, notify, func() error {
		resumed := ing.Offset > 0
		// Every byte may be there already (a pull killed between the last
		// write and the rename): nothing to ask for, and a registry
		// answers a Range that starts at the end with 416.
		if ing.Offset < b.Size {
			if err := download(ctx, reg, b, ing, bar, opt); err != nil {
				return err
			}
		}
		err := ing.Commit()
		var mm *store.MismatchError
		if errors.As(err, &mm) && resumed {
			// The kept bytes may have been the bad ones: once more, whole.
			return &statusError{code: 500, msg: err.Error() + " (after resuming; starting over)"}
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: %w", kind, err)
	}
	how := "verified"
	if retried {
		how += ", after retries"
	}
	log.Step(fmt.Sprintf("sha256(%s) = %s, %d bytes: %s, renamed into blobs/sha256/", kind, b.Digest, b.Size, how), "sha256sum blob")
	return true, nil
}

// download makes one GET of the blob (asking for the part not yet
// received), from the registry or, for a foreign layer it does not have,
// from the layer's URLs, and appends what arrives to ing.
func download(ctx context.Context, reg *registry, b v1.Descriptor, ing *store.Ingest, bar Bar, opt Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stall := opt.StallTimeout
	if stall <= 0 {
		stall = 30 * time.Second
	}
	var stalled atomic.Bool
	timer := time.AfterFunc(stall, func() { stalled.Store(true); cancel() })
	defer timer.Stop()

	hdr := http.Header{}
	if ing.Offset > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", ing.Offset))
	}
	resp, err := reg.get(ctx, "blobs", b.Digest.String(), hdr)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound && len(b.URLs) > 0 {
		resp, err = reg.getURLs(ctx, b.URLs, hdr)
	}
	if err != nil {
		if stalled.Load() {
			return fmt.Errorf("blob %s: %w for %s", b.Digest, errStalled, stall)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusPartialContent {
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", ing.Offset)) {
			return &statusError{code: 500, msg: fmt.Sprintf("blob %s: asked for bytes %d-, got %q", b.Digest, ing.Offset, resp.Header.Get("Content-Range"))}
		}
		opt.Log.Note("blob %s: 206 Partial Content, resuming at byte %d", b.Digest, ing.Offset)
	} else if ing.Offset > 0 {
		opt.Log.Note("blob %s: the registry does not resume (200): downloading it whole", b.Digest)
		if err := ing.Reset(); err != nil {
			return err
		}
	}
	var body io.Reader = &watchdog{r: resp.Body, timer: timer, stall: stall}
	if r, ok := bar.(interface{ Resume(offset int64) }); ok {
		r.Resume(ing.Offset) // the bar starts at the bytes kept
	}
	if bar != nil {
		body = bar.Reader(body)
	}
	_, err = io.CopyBuffer(ing, body, make([]byte, copyBuffer))
	if err != nil && stalled.Load() {
		return fmt.Errorf("blob %s: %w for %s (%d of %d bytes kept)", b.Digest, errStalled, stall, ing.Offset, b.Size)
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w (%d of %d bytes kept)", b.Digest, err, ing.Offset, b.Size)
	}
	if ing.Offset < b.Size {
		return fmt.Errorf("blob %s: %w: the connection ended after %d of %d bytes", b.Digest, io.ErrUnexpectedEOF, ing.Offset, b.Size)
	}
	return nil
}

// watchdog pushes the stall timer back whenever bytes arrive.
type watchdog struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
}

func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.timer.Reset(w.stall)
	}
	return n, err
}
