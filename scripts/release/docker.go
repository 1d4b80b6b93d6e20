package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// caBundles are where build machines keep the system CA bundle: Debian,
// Ubuntu, Alpine, Arch; Fedora, RHEL; macOS and the BSDs.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/cert.pem",
}

// The image's only user: reverb, uid and gid 65532 (the usual "nonroot"
// id of distroless images), home /app, no shell.
const (
	passwdFile = "root:x:0:0:root:/root:/sbin/nologin\nreverb:x:65532:65532:reverb:/app:/sbin/nologin\n"
	groupFile  = "root:x:0:\nreverb:x:65532:\n"
)

// DockerContext writes the build context of the repository's Dockerfile
// into dir: the Dockerfile, the static binary for t, the CA bundle (caFile,
// or the first of caBundles that exists) and passwd/group files.
func (r Release) DockerContext(ctx context.Context, t Target, dir, caFile string) error {
	if t.OS != "linux" {
		return fmt.Errorf("container images are linux: %s", t)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := r.Build(ctx, t, dir); err != nil {
		return err
	}
	if caFile == "" {
		for _, c := range caBundles {
			if _, err := os.Stat(c); err == nil {
				caFile = c
				break
			}
		}
		if caFile == "" {
			return fmt.Errorf("no CA certificate bundle found (looked for %v); pass -ca FILE", caBundles)
		}
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("CA certificates: %w", err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(r.Src, "Dockerfile"))
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"Dockerfile":          dockerfile,
		"ca-certificates.crt": ca,
		"passwd":              []byte(passwdFile),
		"group":               []byte(groupFile),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
