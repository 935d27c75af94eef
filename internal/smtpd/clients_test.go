package smtpd

import (
	"crypto/tls"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTool skips when a real client is missing, except in CI where
// `make test` installs it and a skip would hide a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

const pythonClient = `
import smtplib, ssl, sys
port, tls = int(sys.argv[1]), sys.argv[2] == "tls"
with smtplib.SMTP("127.0.0.1", port, local_hostname="py.example") as s:
    s.ehlo()
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
    assert s.has_extn("pipelining") and s.has_extn("size") and s.has_extn("smtputf8")
    msg = "Subject: from python\r\n\r\n.dot line\r\nbody\r\n"
    refused = s.sendmail("py@py.example", ["r1@example.test", "unknown@example.test"], msg)
    assert list(refused) == ["unknown@example.test"], refused
    s.sendmail("py@py.example", ["r2@example.test"], "Subject: second\r\n\r\nx\r\n", mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    try:
        s.sendmail("py@py.example", ["u@elsewhere.example"], "x\r\n")
        raise SystemExit("relay accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["u@elsewhere.example"]
        assert code == 554 and b"5.7.1" in text, e.recipients
`

func TestPythonSmtplib(t *testing.T) {
	py := needTool(t, "python3")
	for _, mode := range []string{"plain", "tls"} {
		t.Run(mode, func(t *testing.T) {
			opt := testOptions()
			if mode == "tls" {
				opt.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
			}
			ts := startServer(t, opt)
			_, port, _ := strings.Cut(ts.addr, ":")
			out, err := exec.Command(py, "-c", pythonClient, port, mode).CombinedOutput()
			if err != nil {
				t.Fatalf("python: %v\n%s\nlog:\n%s", err, out, ts.log)
			}
			ts.stop(t)
			msgs := ts.sub.messages()
			if len(msgs) != 2 || !strings.Contains(msgs[0].content, "\n.dot line\n") {
				t.Fatalf("messages: %+v", msgs)
			}
			if mode == "tls" && !strings.Contains(msgs[0].msg.Received, "with ESMTPS") {
				t.Errorf("Received: %s", msgs[0].msg.Received)
			}
		})
	}
}

func TestSwaks(t *testing.T) {
	swaks := needTool(t, "swaks")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"pipeline", []string{"--pipeline"}},
		{"tls", []string{"--tls"}},
		{"tls-pipeline", []string{"--tls", "--pipeline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := testOptions()
			opt.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
			ts := startServer(t, opt)
			args := append([]string{"--server", ts.addr, "--from", "swaks@client.example", "--to", "r@example.test",
				"--helo", "swaks.example", "--header", "Subject: swaks test", "--body", "hello from swaks"}, tc.args...)
			out, err := exec.Command(swaks, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("swaks: %v\n%s", err, out)
			}
			ts.stop(t)
			msgs := ts.sub.messages()
			if len(msgs) != 1 || !strings.Contains(msgs[0].content, "hello from swaks") {
				t.Fatalf("messages: %+v\n%s", msgs, out)
			}
			if strings.Contains(tc.name, "tls") != strings.Contains(msgs[0].msg.Received, "ESMTPS") {
				t.Errorf("Received: %s", msgs[0].msg.Received)
			}
		})
	}
}
