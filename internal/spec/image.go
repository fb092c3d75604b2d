package spec

// Annotations that name the image a document was made from. img-pull
// writes them; fs-layer reads them to find the layers to mount.
const (
	// ImageNameAnnotation is the image's full name, as in the store's
	// index.json: docker.io/library/alpine:3.20.
	ImageNameAnnotation = "org.opencontainers.image.ref.name"
	// ImageDigestAnnotation is the digest of the image manifest in the
	// store (ROOT/oci/blobs/sha256/…): the exact image, whatever the tag
	// points to later.
	ImageDigestAnnotation = "org.opencontainers.image.manifest.digest"
	// ImageUserAnnotation carries the image's USER when it is a name, not
	// a number: only /etc/passwd in the image's root filesystem can turn it
	// into a uid, so fs-layer resolves it.
	ImageUserAnnotation = "ctrkit.image.user"
	// ImageEntrypointAnnotation is the image's ENTRYPOINT as a JSON array:
	// docker puts a CMD given on its command line after it.
	ImageEntrypointAnnotation = "ctrkit.image.entrypoint"
	// ImageVolumesAnnotation lists the image's VOLUME paths, comma-separated.
	ImageVolumesAnnotation = "ctrkit.image.volumes"
)
