package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// manifest is what a correct server answers about a generated Maildir.
type manifest struct {
	Seed       uint64 `json:"seed"`
	Messages   int    `json:"messages"`
	Bytes      int64  `json:"bytes"` // sum of RFC822.SIZE (CRLF line ends)
	Seen       int    `json:"seen"`
	Answered   int    `json:"answered"`
	SearchWord string `json:"search_word"`
	SearchHits int    `json:"search_hits"` // messages whose Subject has SearchWord
	Envelopes  string `json:"envelopes"`   // envelopeDigest of every message
}

// searchWord is in the subjects of about 3% of the messages and in the
// bodies of others, so that a search of the wrong place miscounts.
const searchWord = "quarterly"

// genEpoch is the date of the newest message.
var genEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func genCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the Maildir to create (must not exist)")
	manifestFile := fs.String("manifest", "", "where to write the manifest (JSON)")
	n := fs.Int("messages", 10000, "number of messages")
	seed := fs.Uint64("seed", 1, "seed of the generator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *manifestFile == "" || *n < 1 {
		return fmt.Errorf("gen needs -dir, -manifest and -messages >= 1")
	}
	m, err := generate(*dir, *n, *seed)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*manifestFile, append(b, '\n'), 0o644)
}

// generate writes n messages into a new Maildir dir (all in cur/, with
// Dovecot-style names: ,S= file size, ,W= RFC822.SIZE, :2, flags) and
// returns its manifest. Each file's mtime, the IMAP internal date, is its
// Date: header plus a few seconds.
func generate(dir string, n int, seed uint64) (*manifest, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("generate %s: already exists", dir)
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	g := &generator{r: rand.New(rand.NewPCG(seed, 0x696d6170))}
	m := &manifest{Seed: seed, Messages: n, SearchWord: searchWord}
	var envs []envelopeKey
	for i := range n {
		msg := g.message(i, n)
		vsize := int64(len(msg.data) + bytes.Count(msg.data, []byte("\n")))
		m.Bytes += vsize
		if strings.Contains(msg.flags, "S") {
			m.Seen++
		}
		if strings.Contains(msg.flags, "R") {
			m.Answered++
		}
		if msg.hit {
			m.SearchHits++
		}
		envs = append(envs, envelopeKey{msg.messageID, msg.subject})
		name := fmt.Sprintf("%d.M%dP%d.bench.example,S=%d,W=%d:2,%s",
			msg.date.Unix(), 100000+i, 2000+i%30000, len(msg.data), vsize, msg.flags)
		path := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(path, msg.data, 0o600); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		mtime := msg.date.Add(time.Duration(1+i%7) * time.Second)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	m.Envelopes = envelopeDigest(envs)
	return m, nil
}

// envelopeKey is what the digest covers of one ENVELOPE.
type envelopeKey struct{ messageID, subject string }

// envelopeDigest is a SHA-256 over the sorted Message-IDs (without angle
// brackets) and decoded subjects: the same for every correct server
// whatever its UID order.
func envelopeDigest(keys []envelopeKey) string {
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = strings.Trim(k.messageID, "<>") + "\x00" + k.subject
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

type generator struct {
	r *rand.Rand
}

// genMessage is one generated message, LF line ends as in a Maildir.
type genMessage struct {
	data      []byte
	date      time.Time
	flags     string
	messageID string
	subject   string // decoded
	hit       bool   // subject has searchWord
}

var (
	firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoë", "José", "Björn"}
	lastNames  = []string{"Smith", "Jones", "Martin", "Bernard", "Dubois", "Müller", "García", "Rossi", "Novak", "Kowalski", "Tanaka", "Okafor", "Silva", "Larsen"}
	domains    = []string{"example.com", "example.net", "example.org", "mail.example.com", "corp.example", "lists.example.org", "bench.example"}
	words      = []string{"meeting", "report", "project", "update", "budget", "review", "draft", "schedule", "team", "release", "notes", "agenda", "invoice", "contract", "server", "migration", "holiday", "lunch", "question", "proposal", "summary", "status", "deadline", "customer", "feedback", "design", "plan", "weekly", "monthly", "annual", "results", "travel", "office", "launch", "backup", "security", "patch", "incident", "roadmap", "hiring"}
	utf8Words  = []string{"Café", "Grüße", "naïve", "réunion", "Ärger", "señal", "Zürich", "crème"}
	prose      = strings.Fields("the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their can has been if more when will would who so no about out them then some into up time only other could new these two may first any like now my such make over our even most me state after also made many before must through back years where much your way well down should because each just those people how too little good very great still own see men work long get here between both life being under never day same another know while last might us off come since against right take three himself few house use during without again place around however home small found thought went say part once general high upon school every don't does got united left number course war until always away something fact though water less public put think almost hand enough far took head yet government system better set told nothing night end why called didn't eyes find going look asked later knew point next city business give group toward young let room president side social given present several order national possible rather second face per among form important often things looking large fall")
)

// message builds message i of n: a realistic size (log-uniform 1-50 KB),
// a plain, alternative or mixed body, several recipients.
func (g *generator) message(i, n int) genMessage {
	r := g.r
	// Oldest first: message i is (n-i) slots of ~53 minutes before the epoch.
	date := genEpoch.Add(-time.Duration(n-i) * 53 * time.Minute).Add(time.Duration(r.IntN(600)) * time.Second)
	target := int(math.Exp(math.Log(1024) + r.Float64()*(math.Log(50*1024)-math.Log(1024))))

	from := g.person()
	var to, cc []string
	for range 1 + r.IntN(5) {
		to = append(to, g.person())
	}
	if r.IntN(2) == 0 {
		for range 1 + r.IntN(4) {
			cc = append(cc, g.person())
		}
	}
	subject, hit := g.subject()
	msgID := fmt.Sprintf("<%d.%d.bench@%s>", date.Unix(), i, domains[r.IntN(len(domains))])

	var b bytes.Buffer
	host := fmt.Sprintf("mx%d.%s", 1+r.IntN(9), domains[r.IntN(len(domains))])
	fmt.Fprintf(&b, "Return-Path: <%s>\n", addrOf(from))
	fmt.Fprintf(&b, "Delivered-To: bench@bench.example\n")
	fmt.Fprintf(&b, "Received: from %s (%s [192.0.2.%d])\n\tby mail.bench.example (mailhorn) with ESMTPS id %08X\n\tfor <bench@bench.example>; %s\n",
		host, host, 1+r.IntN(250), r.Uint32(), date.Add(2*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Received: from [10.0.%d.%d] (unknown [10.0.%d.%d])\n\tby %s with ESMTPSA id %08X;\n\t%s\n",
		r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), host, r.Uint32(), date.Add(time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\n", from)
	writeAddressList(&b, "To", to)
	if len(cc) > 0 {
		writeAddressList(&b, "Cc", cc)
	}
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("UTF-8", subject))
	fmt.Fprintf(&b, "Message-ID: %s\n", msgID)
	if i > 0 && r.IntN(3) == 0 {
		ref := fmt.Sprintf("<%d.%d.bench@%s>", date.Unix()-3600, i-1, domains[r.IntN(len(domains))])
		fmt.Fprintf(&b, "In-Reply-To: %s\nReferences: %s\n", ref, ref)
	}
	fmt.Fprintf(&b, "MIME-Version: 1.0\n")
	if r.IntN(4) == 0 {
		fmt.Fprintf(&b, "X-Mailer: Bench Mail %d.%d\nX-Spam-Status: No, score=-%d.%d\n", 1+r.IntN(9), r.IntN(10), r.IntN(5), r.IntN(10))
	}

	body := target - b.Len()
	if body < 200 {
		body = 200
	}
	boundary := fmt.Sprintf("=_bench_%08x", r.Uint32())
	switch k := r.IntN(20); {
	case k < 9: // text/plain
		g.textPart(&b, body, true)
	case k < 15: // multipart/alternative
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n", boundary)
		fmt.Fprintf(&b, "--%s\n", boundary)
		text := g.prose(body * 2 / 5)
		writeText(&b, text, r.IntN(2) == 0)
		fmt.Fprintf(&b, "\n--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n", boundary)
		html := "<html><body><p>" + strings.ReplaceAll(text, "\n\n", "</p>\n<p>") + "</p></body></html>"
		writeQP(&b, html)
		fmt.Fprintf(&b, "\n--%s--\n", boundary)
	default: // multipart/mixed with attachments
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n", boundary)
		fmt.Fprintf(&b, "--%s\n", boundary)
		g.textPart(&b, min(body/4, 2000), false)
		parts := 1 + r.IntN(2)
		for p := range parts {
			size := (body * 3 / 4) / parts * 3 / 4 // base64 grows by 4/3
			data := make([]byte, max(size, 64))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			name, ctype := fmt.Sprintf("scan-%d-%d.pdf", i, p), "application/pdf"
			if r.IntN(2) == 0 {
				name, ctype = fmt.Sprintf("photo-%d-%d.jpg", i, p), "image/jpeg"
			}
			fmt.Fprintf(&b, "\n--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n", boundary, ctype, name, name)
			enc := base64.StdEncoding.EncodeToString(data)
			for len(enc) > 76 {
				b.WriteString(enc[:76])
				b.WriteByte('\n')
				enc = enc[76:]
			}
			b.WriteString(enc)
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "\n--%s--\n", boundary)
	}

	flags := "S"
	switch k := r.IntN(20); {
	case k == 0:
		flags = "RS"
	case k < 4:
		flags = ""
	}
	return genMessage{data: b.Bytes(), date: date, flags: flags, messageID: msgID, subject: subject, hit: hit}
}

// textPart writes the headers and body of a text/plain part of about size
// bytes: us-ascii 7bit or, when a UTF-8 word is in it, quoted-printable.
func (g *generator) textPart(b *bytes.Buffer, size int, mayHit bool) {
	text := g.prose(size)
	if mayHit && g.r.IntN(10) == 0 {
		text = "About the " + searchWord + " figures:\n\n" + text
	}
	writeText(b, text, g.r.IntN(3) == 0)
}

// writeText writes a text/plain part's header and body.
func writeText(b *bytes.Buffer, text string, utf8 bool) {
	if !utf8 {
		b.WriteString("Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n")
		b.WriteString(text)
		b.WriteByte('\n')
		return
	}
	b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n")
	writeQP(b, "Grüße aus Zürich —\n\n"+text)
}

// writeQP writes s quoted-printable with LF line ends.
func writeQP(b *bytes.Buffer, s string) {
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	io.WriteString(w, s)
	w.Close()
	b.Write(bytes.ReplaceAll(qp.Bytes(), []byte("\r\n"), []byte("\n")))
	b.WriteByte('\n')
}

// prose is about size bytes of paragraphs of lines under 76 characters.
func (g *generator) prose(size int) string {
	var b strings.Builder
	line := 0
	for b.Len() < size {
		w := proseWord(g.r)
		if line+len(w)+1 > 72 {
			b.WriteByte('\n')
			line = 0
			if g.r.IntN(6) == 0 {
				b.WriteByte('\n')
			}
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

func proseWord(r *rand.Rand) string {
	if r.IntN(8) == 0 {
		return words[r.IntN(len(words))]
	}
	return prose[r.IntN(len(prose))]
}

// subject is 3-8 words, sometimes "Re: ", sometimes with a UTF-8 word;
// about 3% carry searchWord.
func (g *generator) subject() (string, bool) {
	r := g.r
	var w []string
	for range 3 + r.IntN(6) {
		w = append(w, words[r.IntN(len(words))])
	}
	hit := r.IntN(33) == 0
	if hit {
		w[r.IntN(len(w))] = searchWord
	}
	if r.IntN(10) == 0 {
		w = append(w, utf8Words[r.IntN(len(utf8Words))])
	}
	w[0] = strings.ToUpper(w[0][:1]) + w[0][1:]
	s := strings.Join(w, " ")
	if r.IntN(4) == 0 {
		s = "Re: " + s
	}
	return s, hit
}

// person is a display name and address, the name encoded when not ASCII.
func (g *generator) person() string {
	r := g.r
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	addr := strings.ToLower(asciiOnly(first)+"."+asciiOnly(last)) + "@" + domains[r.IntN(len(domains))]
	name := first + " " + last
	if enc := mime.QEncoding.Encode("UTF-8", name); enc != name {
		return enc + " <" + addr + ">"
	}
	return "\"" + name + "\" <" + addr + ">"
}

func addrOf(person string) string {
	i := strings.LastIndexByte(person, '<')
	return strings.Trim(person[i:], "<>")
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 0x80 {
			b.WriteRune(c)
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

// writeAddressList writes "Name: a,\n\tb,\n\tc".
func writeAddressList(b *bytes.Buffer, name string, list []string) {
	fmt.Fprintf(b, "%s: %s\n", name, strings.Join(list, ",\n\t"))
}
