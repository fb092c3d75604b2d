// Package push uploads an image from ctrkit's store to a registry, the
// way `docker push` does: for every blob (each layer, then the config) a
// HEAD /v2/NAME/blobs/DIGEST asks whether the registry has it already;
// only the missing ones are uploaded (POST, then PUT with the digest), and
// the manifest is PUT last, so the registry never names an image whose
// blobs it lacks.
package push

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"ctrkit/internal/explain"
	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options tune Push.
type Options struct {
	Insecure bool
	Out      io.Writer // progress
	Log      *explain.Log
}

// Result says what Push did.
type Result struct {
	Digest   v1.Hash
	Uploaded int
	Skipped  int
}

// Push uploads the store's image src to dest (a full reference).
func Push(images *store.Store, src, dest string, opt Options) (*Result, error) {
	// Read through the store's verified chain (index.json → manifest →
	// config, layers by size); the registry checks each layer's digest as
	// it is uploaded.
	im, err := images.ResolveAny(src)
	if err != nil {
		return nil, err
	}
	e := im.Entry
	var nopts []name.Option
	if opt.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := store.ParseReference(dest, nopts...)
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(images.Dir)
	if err != nil {
		return nil, fmt.Errorf("open the image layout %s: %w", images.Dir, err)
	}
	img, err := p.Image(e.Descriptor.Digest)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	repo := ref.Context()
	auth, err := authn.DefaultKeychain.Resolve(repo)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, http.DefaultTransport, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w (is it running? a registry without TLS needs --insecure unless it is on localhost)", repo.RegistryStr(), err)
	}
	client := &http.Client{Transport: tr}
	has := func(d v1.Hash) (bool, error) {
		u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), d)
		opt.Log.Step("HEAD "+u, "curl -sI "+u)
		resp, err := client.Head(u)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return true, nil
		case http.StatusNotFound:
			return false, nil
		}
		return false, fmt.Errorf("HEAD %s: %s", u, resp.Status)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	ropts := []remote.Option{remote.WithAuth(auth), remote.WithContext(ctx)}
	upload := func(what string, d v1.Hash, size int64, l v1.Layer) error {
		ok, err := has(d)
		if err != nil {
			return fmt.Errorf("registry %s: %w", repo.RegistryStr(), err)
		}
		if ok {
			res.Skipped++
			fmt.Fprintf(opt.Out, "  %s %s: already in %s, skipped\n", what, short(d), repo)
			return nil
		}
		fmt.Fprintf(opt.Out, "  %s %s: uploading %d bytes…", what, short(d), size)
		opt.Log.Step("POST+PUT /v2/"+repo.RepositoryStr()+"/blobs/uploads/ (digest "+d.String()+")", "")
		if l != nil {
			err = remote.WriteLayer(repo, l, ropts...)
		}
		if err != nil {
			fmt.Fprintln(opt.Out, " failed")
			return fmt.Errorf("upload %s %s to %s: %w", what, d, repo, err)
		}
		fmt.Fprintln(opt.Out, " done")
		res.Uploaded++
		return nil
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		size, _ := l.Size()
		if err := upload(fmt.Sprintf("layer %d", i+1), d, size, l); err != nil {
			return nil, err
		}
	}
	// The config is a blob too; remote.Write uploads it when missing.
	ok, err := has(cfgName)
	if err != nil {
		return nil, err
	}
	if ok {
		res.Skipped++
		fmt.Fprintf(opt.Out, "  config %s: already in %s, skipped\n", short(cfgName), repo)
	} else {
		res.Uploaded++
		fmt.Fprintf(opt.Out, "  config %s: uploading\n", short(cfgName))
	}
	opt.Log.Step("PUT /v2/"+repo.RepositoryStr()+"/manifests/"+ref.Identifier(), "")
	if err := remote.Write(ref, img, ropts...); err != nil {
		return nil, fmt.Errorf("push %s: %w", store.FullName(ref), err)
	}
	if res.Digest, err = img.Digest(); err != nil {
		return nil, err
	}
	return res, nil
}

func short(h v1.Hash) string { return h.Algorithm + ":" + h.Hex[:12] }
