package pull

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"ctrkit/internal/explain"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The media types a manifest request accepts, in the Accept header. A
// registry that has only an older kind (Docker schema 1) answers with that,
// and we refuse it.
var manifestAccept = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// registry speaks the OCI distribution protocol with one repository:
//
//	GET /v2/                              → 200, or 401 and where to get a token
//	GET /v2/NAME/manifests/TAG|DIGEST      → a manifest or a manifest list
//	GET /v2/NAME/blobs/DIGEST              → a config or a layer
//
// The token dance (a 401 with `WWW-Authenticate: Bearer realm=…,scope=…`,
// then a GET of the realm, with credentials if any, that returns a token
// sent as `Authorization: Bearer …` from then on) is done by
// go-containerregistry's transport; explain mode shows every request it
// makes, because ours is the transport underneath.
type registry struct {
	base  string // https://host or http://host
	repo  string // library/alpine
	http  *http.Client
	plain *http.Client // for foreign layers' URLs
}

// dial pings the registry and gets a pull token for repo.
func dial(ctx context.Context, ref name.Reference, auth authn.Authenticator, insecure bool, base http.RoundTripper, log *explain.Log) (*registry, error) {
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asked for it
		}
		base = t
	}
	repo := ref.Context()
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, &explained{next: base, log: log}, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, registryError(repo.RegistryStr(), err)
	}
	return &registry{
		base:  repo.Registry.Scheme() + "://" + repo.RegistryStr(),
		repo:  repo.RepositoryStr(),
		http:  &http.Client{Transport: rt},
		plain: &http.Client{Transport: &explained{next: base, log: log}},
	}, nil
}

// get fetches /v2/REPO/KIND/ID, sending hdr, and returns the response when
// it is a 200 (or a 206, the answer to a Range). Other answers are a
// *statusError.
func (r *registry) get(ctx context.Context, kind, id string, hdr http.Header) (*http.Response, error) {
	url := fmt.Sprintf("%s/v2/%s/%s/%s", r.base, r.repo, kind, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, registryError(r.base, err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	what := strings.TrimSuffix(kind, "s")
	se := &statusError{code: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	switch resp.StatusCode {
	case http.StatusNotFound:
		se.msg = fmt.Sprintf("%s %q not found in %s/%s (404): check the name and tag; `skopeo list-tags docker://…` lists the tags", what, id, r.base, r.repo)
	case http.StatusUnauthorized, http.StatusForbidden:
		se.msg = fmt.Sprintf("access to %s/%s refused (%d %s): log in with --username and --password-stdin, or `docker login`, or check the name", r.base, r.repo, resp.StatusCode, strings.TrimSpace(string(body)))
	default:
		se.msg = fmt.Sprintf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil, se
}

// getURLs fetches a foreign (non-distributable) layer from the URLs its
// descriptor lists, the first that answers; no credentials are sent.
func (r *registry) getURLs(ctx context.Context, urls []string, hdr http.Header) (*http.Response, error) {
	var errs []error
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			errs = append(errs, fmt.Errorf("foreign layer URL %q: only http and https", u))
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := r.plain.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("GET %s: %w", u, err))
			continue
		}
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
			return resp, nil
		}
		resp.Body.Close()
		errs = append(errs, &statusError{code: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After")),
			msg: fmt.Sprintf("GET %s: %s", u, resp.Status)})
	}
	return nil, fmt.Errorf("foreign layer: not in the registry, and its URLs failed: %w", errors.Join(errs...))
}

// registryError explains the errors of connecting and authenticating.
func registryError(host string, err error) error {
	var terr *transport.Error
	var nerr net.Error
	var oerr *net.OpError
	switch {
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		return fmt.Errorf("registry %s refused the credentials (%d): check --username/--password-stdin or ~/.docker/config.json: %w", host, terr.StatusCode, err)
	case errors.As(err, &oerr), errors.As(err, &nerr):
		return fmt.Errorf("cannot reach registry %s: %w (is it running and is the name right? a registry without TLS needs --insecure unless it is on localhost)", host, err)
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// explained is the HTTP transport under go-containerregistry's: it prints
// every request, with its answer, as a curl command a learner can replay.
type explained struct {
	next http.RoundTripper
	log  *explain.Log
}

func (e *explained) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := e.next.RoundTrip(req)
	if !e.log.Enabled() {
		return resp, err
	}
	call := req.Method + " " + req.URL.Redacted()
	if err != nil {
		e.log.Step(call+" → "+err.Error(), curl(req))
		return resp, err
	}
	answer := fmt.Sprintf(" → %d", resp.StatusCode)
	if ct := resp.Header.Get("Content-Type"); ct != "" && resp.StatusCode == http.StatusOK {
		answer += " " + ct
	}
	if resp.ContentLength >= 0 && resp.StatusCode == http.StatusOK {
		answer += fmt.Sprintf(", %d bytes", resp.ContentLength)
	}
	if wa := resp.Header.Get("WWW-Authenticate"); wa != "" {
		answer += ", WWW-Authenticate: " + wa
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		answer += ", Location: " + loc
	}
	e.log.Step(call+answer, curl(req))
	return resp, err
}

// curl renders req as a curl command; secrets stay shell variables
// ($TOKEN, $USER, $PASSWORD) the learner fills in.
func curl(req *http.Request) string {
	words := []string{"curl", "-sS"}
	if req.Method != http.MethodGet {
		words = append(words, "-X", req.Method)
	}
	auth := ""
	if a := req.Header.Get("Authorization"); a != "" {
		switch {
		case strings.HasPrefix(a, "Bearer "):
			auth = ` -H "Authorization: Bearer $TOKEN"`
		case strings.HasPrefix(a, "Basic "):
			auth = ` -u "$USER:$PASSWORD"`
		}
	}
	if acc := req.Header.Get("Accept"); acc != "" {
		words = append(words, "-H", "Accept: "+acc)
	}
	if rg := req.Header.Get("Range"); rg != "" {
		// The rest of a blob, appended to what was kept.
		words = append(words, "-H", "Range: "+rg, "-L")
		u := *req.URL
		u.User = nil
		return explain.Join(words) + auth + " " + explain.Quote(u.String()) + " >> blob"
	}
	if strings.Contains(req.URL.Path, "/blobs/") {
		words = append(words, "-L", "-o", "blob")
	}
	u := *req.URL
	u.User = nil
	return explain.Join(words) + auth + " " + explain.Quote(u.String())
}
