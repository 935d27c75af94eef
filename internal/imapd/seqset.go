package imapd

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"mailhorn/internal/store"
)

// seqRange is one element of a sequence set; 0 stands for "*".
type seqRange struct{ lo, hi uint32 }

// seqSet is a parsed sequence-set (RFC 9051 §9): ranges, or "$" (the
// saved search result, RFC 5182).
type seqSet struct {
	ranges []seqRange
	saved  bool
}

// parseSeqSet parses "1:3,5,7:*" or "$".
func parseSeqSet(s string) (seqSet, error) {
	if s == "$" {
		return seqSet{saved: true}, nil
	}
	if s == "" {
		return seqSet{}, errSyntax("empty sequence set")
	}
	var set seqSet
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := seqNumber(lo)
		if err != nil {
			return seqSet{}, err
		}
		b := a
		if isRange {
			if b, err = seqNumber(hi); err != nil {
				return seqSet{}, err
			}
		}
		set.ranges = append(set.ranges, seqRange{a, b})
	}
	return set, nil
}

func seqNumber(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" || s[0] == '0' {
		return 0, errSyntax("bad sequence number %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errSyntax("bad sequence number %q", s)
	}
	return uint32(n), nil
}

// norm returns the range with "*" replaced by star and lo <= hi.
func (r seqRange) norm(star uint32) (uint32, uint32) {
	lo, hi := r.lo, r.hi
	if lo == 0 {
		lo = star
	}
	if hi == 0 {
		hi = star
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// seqIndexes resolves a set of sequence numbers against n messages: the
// 0-based indexes, ascending, without duplicates. bad reports a number
// beyond n (RFC 9051: BAD for sequence numbers, not for UIDs).
func (set seqSet) seqIndexes(n int) (idx []int, bad bool) {
	if n == 0 {
		// "1:*" on an empty mailbox names nothing; "1" is out of range.
		for _, r := range set.ranges {
			if r.lo != 0 && r.hi != 0 {
				return nil, true
			}
		}
		return nil, false
	}
	marks := make([]bool, n)
	for _, r := range set.ranges {
		lo, hi := r.norm(uint32(n))
		if int64(hi) > int64(n) {
			bad = true
			hi = uint32(n)
		}
		for i := lo; i <= hi && i >= lo; i++ {
			marks[i-1] = true
		}
	}
	for i, m := range marks {
		if m {
			idx = append(idx, i)
		}
	}
	return idx, bad
}

// uidIndexes resolves a set of UIDs against msgs (in UID order): the
// indexes of the messages it names. "*" is the highest UID; a range whose
// UIDs are all absent names nothing (RFC 9051 §6.4.9), except that n:*
// always includes the last message.
func (set seqSet) uidIndexes(msgs []store.Message) []int {
	if len(msgs) == 0 {
		return nil
	}
	star := msgs[len(msgs)-1].UID
	var idx []int
	for _, r := range set.ranges {
		lo, hi := r.norm(star)
		i := sort.Search(len(msgs), func(i int) bool { return msgs[i].UID >= lo })
		for ; i < len(msgs) && msgs[i].UID <= hi; i++ {
			idx = append(idx, i)
		}
	}
	if len(set.ranges) > 1 {
		slices.Sort(idx)
		idx = slices.Compact(idx)
	}
	return idx
}

// contains reports whether set (of UIDs, "*" = star) holds uid.
func (set seqSet) contains(uid, star uint32) bool {
	for _, r := range set.ranges {
		lo, hi := r.norm(star)
		if uid >= lo && uid <= hi {
			return true
		}
	}
	return false
}

// uidSetOf makes a seqSet of explicit UIDs.
func uidSetOf(uids []uint32) seqSet {
	var set seqSet
	for _, u := range uids {
		if n := len(set.ranges); n > 0 && set.ranges[n-1].hi+1 == u {
			set.ranges[n-1].hi = u
			continue
		}
		set.ranges = append(set.ranges, seqRange{u, u})
	}
	return set
}

// appendNumSet appends numbers as a compact set "1:3,5" in the order given
// (sorted input gives ranges; COPYUID keeps the source order).
func appendNumSet(b []byte, nums []uint32) []byte {
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(nums[i]), 10)
		if j > i {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(nums[j]), 10)
		}
		i = j + 1
	}
	return b
}
