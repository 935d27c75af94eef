package smtp

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// OptionsFromConfig reads the smtp(8) (or, with lmtp, the lmtp(8))
// parameters from main.cf (with master.cf -o overrides already applied
// to c). It opens smtp_sasl_password_maps; Agent.Close closes them.
//
// The LMTP client shares smtp_tls_CAfile/CApath/cert_file/key_file,
// smtp_tls_secure_cert_match and smtp_rset_timeout with the SMTP client
// (mailhorn has no lmtp_ copies of these), and never uses
// smtp_fallback_relay or MX lookups.
func OptionsFromConfig(c *config.Config, lmtp bool) (Options, error) {
	o := DefaultOptions(lmtp)
	p, helo := "smtp_", "smtp_helo"
	if lmtp {
		p, helo = "lmtp_", "lmtp_lhlo"
		o.DefaultPort = c.Get("lmtp_tcp_port")
	}
	o.HeloName = c.Get(helo + "_name")
	o.Bind4 = c.Get(p + "bind_address")
	if !lmtp {
		o.Bind6 = c.Get("smtp_bind_address6")
		o.NeverEHLO = c.Bool("smtp_never_send_ehlo")
		o.MXAddressLimit = c.Int("smtp_mx_address_limit")
		o.MXSessionLimit = c.Int("smtp_mx_session_limit")
		o.Skip5xxGreeting = c.Bool("smtp_skip_5xx_greeting")
		o.FallbackRelay = c.List("smtp_fallback_relay")
		o.SenderDependent = c.Bool("smtp_sender_dependent_authentication")
	}
	o.Protocols = c.List("inet_protocols")
	o.Timeouts = Timeouts{
		Connect:  c.Duration(p + "connect_timeout"),
		Helo:     c.Duration(helo + "_timeout"),
		Mail:     c.Duration(p + "mail_timeout"),
		Rcpt:     c.Duration(p + "rcpt_timeout"),
		DataInit: c.Duration(p + "data_init_timeout"),
		DataXfer: c.Duration(p + "data_xfer_timeout"),
		DataDone: c.Duration(p + "data_done_timeout"),
		Quit:     c.Duration(p + "quit_timeout"),
		Rset:     c.Duration("smtp_rset_timeout"),
	}
	o.TLSLevel = strings.ToLower(c.Get(p + "tls_security_level"))
	switch o.TLSLevel {
	case "", TLSNone, TLSMay, TLSEncrypt, TLSVerify, TLSSecure:
	default:
		return o, fmt.Errorf("%stls_security_level: unknown level %q (none, may, encrypt, verify, secure)", p, o.TLSLevel)
	}
	o.SecureMatch = c.List("smtp_tls_secure_cert_match")
	var err error
	if o.RootCAs, err = loadCAs(c.Get("smtp_tls_CAfile"), c.Get("smtp_tls_CApath")); err != nil {
		return o, err
	}
	if cert := c.Get("smtp_tls_cert_file"); cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, c.Get("smtp_tls_key_file"))
		if err != nil {
			return o, fmt.Errorf("smtp_tls_cert_file %s: %w", cert, err)
		}
		o.ClientCert = &pair
	}
	if c.Bool(p + "connection_cache_on_demand") {
		o.CacheTime = c.Duration(p + "connection_cache_time_limit")
	} else {
		o.CacheTime = 0
	}
	o.SASL = c.Bool(p + "sasl_auth_enable")
	if specs := c.List(p + "sasl_password_maps"); o.SASL && len(specs) > 0 {
		l, err := maps.OpenList(specs)
		if err != nil {
			return o, fmt.Errorf("%ssasl_password_maps: %w", p, err)
		}
		o.Passwords = l
	}
	return o, nil
}

// NewFromConfig is New with OptionsFromConfig and the resolver named by
// mailhorn_dns_resolver.
func NewFromConfig(c *config.Config, lmtp bool, log *slog.Logger) (*Agent, error) {
	o, err := OptionsFromConfig(c, lmtp)
	if err != nil {
		return nil, err
	}
	return New(o, NewResolver(c.Get("mailhorn_dns_resolver")), log), nil
}

// loadCAs reads trusted CAs from a PEM file and/or every file of a
// directory; with neither, nil (the system's roots).
func loadCAs(file, dir string) (*x509.CertPool, error) {
	if file == "" && dir == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("smtp_tls_CAfile: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("smtp_tls_CAfile %s: no PEM certificate found", file)
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("smtp_tls_CApath: %w", err)
		}
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				pool.AppendCertsFromPEM(b)
			}
		}
	}
	return pool, nil
}
