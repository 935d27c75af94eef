package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailhorn/internal/config"
)

const tlsUsage = "usage: mailhorn tls selfsigned [-c config_dir] [-cert FILE] [-key FILE] [-host NAME[,NAME...]] [-days N] [-f]"

// runTLS implements "mailhorn tls": for now one action, selfsigned, which
// writes a self-signed certificate and its key for first runs and tests,
// where the smtpd_tls_cert_file and smtpd_tls_key_file parameters (or
// -cert and -key) say.
func runTLS(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] != "selfsigned" {
		fmt.Fprintln(e.stderr, tlsUsage)
		return 2
	}
	fs := flag.NewFlagSet("mailhorn tls selfsigned", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	confDir := fs.String("c", "", "configuration directory")
	certFile := fs.String("cert", "", "certificate file (default: smtpd_tls_cert_file)")
	keyFile := fs.String("key", "", "private key file (default: smtpd_tls_key_file, else the certificate file)")
	hosts := fs.String("host", "", "host names and addresses the certificate is for, comma-separated (default: myhostname)")
	days := fs.Int("days", 365, "validity in days")
	force := fs.Bool("f", false, "replace existing files")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || *days < 1 {
		fmt.Fprintln(e.stderr, tlsUsage)
		return 2
	}
	if err := selfSigned(e, *confDir, *certFile, *keyFile, *hosts, *days, *force); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn tls: %v\n", err)
		return 1
	}
	return 0
}

func selfSigned(e *env, confDir, certFile, keyFile, hosts string, days int, force bool) error {
	if certFile == "" || hosts == "" {
		cfg, err := config.Load(config.Dir(confDir, e.getenv), func(w string) {
			fmt.Fprintf(e.stderr, "mailhorn tls: warning: %s\n", w)
		})
		if err != nil {
			return err
		}
		if certFile == "" {
			certFile, keyFile = cfg.Get("smtpd_tls_cert_file"), cfg.Get("smtpd_tls_key_file")
		}
		if hosts == "" {
			hosts = cfg.Get("myhostname")
		}
	}
	if certFile == "" {
		return errors.New("no certificate file: give -cert or set smtpd_tls_cert_file")
	}
	if keyFile == "" {
		keyFile = certFile // Postfix allows key and certificate in one file
	}
	if !force {
		for _, f := range []string{certFile, keyFile} {
			if _, err := os.Stat(f); err == nil {
				return fmt.Errorf("%s exists (use -f to replace it)", f)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}
	names := strings.FieldsFunc(hosts, func(r rune) bool { return r == ',' || r == ' ' })
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		// A self-signed certificate is its own CA, so that clients can
		// be told to trust it (msmtp's tls_trust_file, swaks --tls-ca-path).
		IsCA: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if keyFile == certFile {
		return writeFileAtomic(certFile, append(keyPEM, certPEM...), 0o600)
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "mailhorn tls: wrote %s and %s for %s, valid %d days\n", certFile, keyFile, strings.Join(names, ", "), days)
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that a running server reloading never sees half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
