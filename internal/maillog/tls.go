package maillog

import (
	"crypto/tls"
	"fmt"
)

// TLSVersion names a TLS protocol version as Postfix (OpenSSL) writes it in
// log lines and Received: headers: "TLSv1.2", "TLSv1.3".
func TLSVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("TLS-0x%04x", v)
}
