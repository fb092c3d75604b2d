package pull

import (
	"context"
	"sync"

	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// total is the size of ds, in bytes.
func total(ds []v1.Descriptor) (n int64) {
	for _, d := range ds {
		n += d.Size
	}
	return n
}

// fetchBlobs downloads the blobs that are not yet stored, opt.Jobs at a
// time; the first error cancels the others.
func fetchBlobs(ctx context.Context, st *store.Store, reg *registry, blobs []v1.Descriptor, opt Options, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	sem := make(chan struct{}, jobs)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i, b := range blobs {
		kind := "layer"
		if i == 0 {
			kind = "config"
		}
		if st.HasBlob(b.Digest, b.Size) {
			opt.Log.Note("%s %s already stored, not downloaded", kind, b.Digest)
			if opt.Progress != nil {
				opt.Progress.Blob(b, kind, true).Done(nil)
			}
			res.Stored++
			continue
		}
		var bar Bar
		if opt.Progress != nil {
			bar = opt.Progress.Blob(b, kind, false)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				if bar != nil {
					bar.Done(ctx.Err())
				}
				return
			}
			got, err := fetchBlob(ctx, st, reg, b, kind, bar, opt)
			if bar != nil {
				bar.Done(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			if !got {
				res.Stored++
				return
			}
			res.Downloaded++
			res.Bytes += b.Size
		}()
	}
	wg.Wait()
	return firstErr
}
