package smtp

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"mailhorn/internal/deliver"
)

// startSmtpSink runs Postfix's smtp-sink on 127.0.0.1 with extra options
// and returns its port. Without the tool the test skips, unless CI is set.
func startSmtpSink(t *testing.T, opts ...string) string {
	t.Helper()
	bin, err := exec.LookPath("smtp-sink")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/smtp-sink"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("smtp-sink (Postfix) is required in CI")
			}
			t.Skip("smtp-sink (Postfix) not installed")
		}
	}
	port := freePort(t)
	args := append([]string{}, opts...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "postfix")
	}
	args = append(args, "127.0.0.1:"+port, "100")
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtp-sink did not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSmtpSink delivers to a real Postfix peer that accepts, or rejects
// chosen commands with 4xx (-r) or 5xx (-f).
func TestSmtpSink(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []string
		want want
	}{
		{"accepts", nil, want{deliver.Sent, "2.0.0", "250 2.0.0 Ok", "smtp; 250 2.0.0 Ok"}},
		{"accepts over LMTP", []string{"-L"}, want{deliver.Sent, "2.2.0", "250 2.2.0 Ok", ""}},
		{"5xx RCPT", []string{"-f", "RCPT"}, want{deliver.Bounced, "5.3.0", "host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed (in reply to RCPT TO command)", "smtp; 500 5.3.0 Error: command failed"}},
		{"4xx MAIL", []string{"-r", "MAIL"}, want{deliver.Deferred, "4.3.0", "said: 450 4.3.0 Error: command failed (in reply to MAIL FROM command)", ""}},
		{"5xx end of data", []string{"-f", "."}, want{deliver.Bounced, "5.3.0", "(in reply to end of DATA command)", ""}},
		{"421 at RCPT", []string{"-Q", "RCPT"}, want{deliver.Deferred, "4.0.0", "said: 421 4.0.0 Server closing connection (in reply to RCPT TO command)", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := startSmtpSink(t, tc.opts...)
			o := testOptions(port)
			if len(tc.opts) > 0 && tc.opts[0] == "-L" {
				o.LMTP = true
			}
			a := New(o, nil, nil)
			defer a.Close()
			check(t, a.Deliver(context.Background(), request(t, "[127.0.0.1]", "s@sender.test", message, "a@d.test")), tc.want)
		})
	}
}
