package qmgr

import (
	"strconv"
	"strings"
	"time"

	"mailhorn/internal/config"
)

// Limits are one transport's concurrency limits.
type Limits struct {
	Processes      int // deliveries in parallel by the transport (master.cf maxproc)
	DestConcurrent int // deliveries in parallel to one destination
	RecipientLimit int // recipients per delivery request; 1 makes each recipient its own destination
}

// Settings are the queue manager's parameters.
type Settings struct {
	Hostname string // myhostname, for reports

	QueueRunDelay  time.Duration
	MinBackoff     time.Duration
	MaxBackoff     time.Duration
	MaxLifetime    time.Duration
	BounceLifetime time.Duration // for mail from the null sender
	DelayWarning   time.Duration // 0: never

	BounceSizeLimit       int64
	DoubleBounceRecipient string // 2bounce_notice_recipient
	DoubleBounceSender    string // double_bounce_sender@myorigin

	ActiveLimit   int           // messages held in memory at once
	ShutdownGrace time.Duration // how long running deliveries may finish at shutdown

	Default    Limits
	Transports map[string]Limits // by master.cf service name; missing ones use Default
}

// DefaultSettings are Postfix's defaults.
func DefaultSettings(hostname string) Settings {
	return Settings{
		Hostname:              hostname,
		QueueRunDelay:         300 * time.Second,
		MinBackoff:            300 * time.Second,
		MaxBackoff:            4000 * time.Second,
		MaxLifetime:           5 * 24 * time.Hour,
		BounceLifetime:        5 * 24 * time.Hour,
		BounceSizeLimit:       50000,
		DoubleBounceRecipient: "postmaster",
		DoubleBounceSender:    "double-bounce@" + hostname,
		ActiveLimit:           20000,
		ShutdownGrace:         10 * time.Second,
		Default:               Limits{Processes: 100, DestConcurrent: 20, RecipientLimit: 50},
		Transports: map[string]Limits{
			// postconf -d: local_destination_concurrency_limit = 2,
			// local_destination_recipient_limit = 1.
			"local": {Processes: 100, DestConcurrent: 2, RecipientLimit: 1},
		},
	}
}

// SettingsFromConfig reads the settings from main.cf. maxproc gives each
// transport's master.cf process limit ("-" there: default_process_limit).
func SettingsFromConfig(c *config.Config, maxproc map[string]int) Settings {
	s := DefaultSettings(c.Get("myhostname"))
	s.QueueRunDelay = c.Duration("queue_run_delay")
	s.MinBackoff = c.Duration("minimal_backoff_time")
	s.MaxBackoff = c.Duration("maximal_backoff_time")
	s.MaxLifetime = c.Duration("maximal_queue_lifetime")
	s.BounceLifetime = c.Duration("bounce_queue_lifetime")
	s.DelayWarning = c.Duration("delay_warning_time")
	if v, err := strconv.ParseInt(c.Get("bounce_size_limit"), 10, 64); err == nil {
		s.BounceSizeLimit = v
	}
	if v := c.Get("2bounce_notice_recipient"); v != "" {
		s.DoubleBounceRecipient = v
	}
	if v := c.Get("double_bounce_sender"); v != "" {
		s.DoubleBounceSender = v
		if !strings.Contains(v, "@") && c.Get("myorigin") != "" {
			s.DoubleBounceSender = v + "@" + c.Get("myorigin")
		}
	}
	if v, err := strconv.Atoi(c.Get("qmgr_message_active_limit")); err == nil && v > 0 {
		s.ActiveLimit = v
	}
	def := Limits{
		Processes:      positive(c.Get("default_process_limit"), s.Default.Processes),
		DestConcurrent: positive(c.Get("default_destination_concurrency_limit"), s.Default.DestConcurrent),
		RecipientLimit: positive(c.Get("default_destination_recipient_limit"), s.Default.RecipientLimit),
	}
	s.Default = def
	builtin := s.Transports
	s.Transports = map[string]Limits{}
	for name, n := range maxproc {
		l := def
		if b, ok := builtin[name]; ok {
			l.DestConcurrent, l.RecipientLimit = b.DestConcurrent, b.RecipientLimit
		}
		if n > 0 {
			l.Processes = n
		}
		l.DestConcurrent = positive(c.Get(name+"_destination_concurrency_limit"), l.DestConcurrent)
		l.RecipientLimit = positive(c.Get(name+"_destination_recipient_limit"), l.RecipientLimit)
		s.Transports[name] = l
	}
	return s
}

func positive(v string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return n
	}
	return def
}

func (s *Settings) limits(transport string) Limits {
	l, ok := s.Transports[transport]
	if !ok {
		l = s.Default
	}
	if l.Processes <= 0 {
		l.Processes = 1
	}
	if l.DestConcurrent <= 0 {
		l.DestConcurrent = 1
	}
	if l.RecipientLimit <= 0 {
		l.RecipientLimit = 1
	}
	return l
}

// backoff is the wait after a deferral: double the last one, within
// minimal_backoff_time and maximal_backoff_time.
func (s *Settings) backoff(last time.Duration) time.Duration {
	b := 2 * last
	if b < s.MinBackoff {
		b = s.MinBackoff
	}
	if s.MaxBackoff > 0 && b > s.MaxBackoff {
		b = s.MaxBackoff
	}
	return b
}
