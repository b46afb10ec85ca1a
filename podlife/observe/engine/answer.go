package main

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// The parts of an HTTP/1.1 answer the engine reads as its bytes arrive, in whatever pieces the
// socket hands them over: the status, whether the server keeps the connection, the pod's name
// (from a header or the body), and where the answer ends (Content-Length, chunked, or the end of
// the connection). Nothing of the body is kept beyond what a pod's name can be, so a large answer
// costs no memory.
const (
	head = iota
	body
	chunkSize
	chunkData
	chunkEnd
	trailer
	untilClose
	complete
)

// Limits past which an answer is malformed rather than slow: no server of a real app sends a
// header block of 64 KiB or a chunk-size line of 4 KiB.
const (
	maxHead      = 64 << 10
	maxChunkLine = 4 << 10
	// A pod's name is a DNS subdomain (253 bytes at most); a body longer than this names none.
	maxName = 1 << 10
)

var (
	headEnd = []byte("\r\n\r\n")
	lineEnd = []byte("\r\n")
)

type answer struct {
	stage     int
	started   bool // a byte of it has come
	status    int
	close     bool // the server ends the connection after it
	remaining int64
	name      []byte // the body's first bytes, for a pod named in the body
	pod       string
}

// reset readies the answer for the next request on the same connection, keeping the name's buffer.
func (a *answer) reset() {
	*a = answer{name: a.name[:0]}
}

// feed reads what it can of data, returning how many bytes it used: the rest is either the start of
// a part that has not fully arrived (the caller keeps it and feeds it again with what follows), or,
// once the answer is complete, bytes the server sent that nobody asked for.
func (a *answer) feed(data []byte, naming, header string) (int, error) {
	used := 0
	if len(data) > 0 {
		a.started = true
	}
	for a.stage != complete {
		rest := data[used:]
		switch a.stage {
		case head:
			end := bytes.Index(rest, headEnd)
			if end < 0 {
				if len(rest) > maxHead {
					return used, errors.New("malformed HTTP answer: no end of its headers within 64 KiB")
				}
				return used, nil
			}
			if err := a.readHead(string(rest[:end]), naming, header); err != nil {
				return used, err
			}
			used += end + len(headEnd)
		case body, chunkData, untilClose:
			take := len(rest)
			if a.stage != untilClose && int64(take) > a.remaining {
				take = int(a.remaining)
			}
			if naming == "body" && len(a.name) <= maxName {
				a.name = append(a.name, rest[:min(take, maxName+1-len(a.name))]...)
			}
			used += take
			a.remaining -= int64(take)
			switch {
			case a.stage == untilClose:
				return used, nil // it ends with the connection: see ended
			case a.remaining > 0:
				return used, nil
			case a.stage == body:
				a.finish(naming)
			default:
				a.stage = chunkEnd
			}
		case chunkSize, chunkEnd, trailer:
			end := bytes.Index(rest, lineEnd)
			if end < 0 {
				if len(rest) > maxChunkLine {
					return used, errors.New("malformed HTTP answer: a chunk line over 4 KiB")
				}
				return used, nil
			}
			line := string(rest[:end])
			used += end + len(lineEnd)
			if err := a.readChunkLine(line, naming); err != nil {
				return used, err
			}
		}
	}
	return used, nil
}

// readChunkLine moves on from a line of a chunked body: a chunk's size, the end of its data, or a trailer.
func (a *answer) readChunkLine(line, naming string) error {
	switch a.stage {
	case chunkEnd:
		if line != "" {
			return errors.New("malformed HTTP answer: a chunk longer than its size")
		}
		a.stage = chunkSize
	case trailer:
		if line == "" {
			a.finish(naming)
		}
	default:
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return errors.New("malformed HTTP answer: a chunk size that is not one")
		}
		a.remaining = n
		a.stage = chunkData
		if n == 0 {
			a.stage = trailer
		}
	}
	return nil
}

// readHead reads the status line and headers; an interim answer (1xx) leaves the stage at head.
func (a *answer) readHead(text, naming, header string) error {
	status, fields, _ := strings.Cut(text, "\r\n")
	version, code, _ := strings.Cut(status, " ")
	code, _, _ = strings.Cut(code, " ")
	n, err := strconv.Atoi(code)
	if !strings.HasPrefix(version, "HTTP/1.") || err != nil || len(code) != 3 {
		return errors.New("malformed HTTP answer: " + strconv.Quote(truncate(status, 60)))
	}
	if n >= 100 && n < 200 && n != 101 {
		return nil // 100 Continue and the like: the answer follows
	}
	a.status, a.close = n, version == "HTTP/1.0"
	length, chunked := int64(-1), false
	for _, line := range strings.Split(fields, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				return errors.New("malformed HTTP answer: Content-Length " + strconv.Quote(truncate(value, 30)))
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			chunked = strings.EqualFold(lastToken(value), "chunked")
		case strings.EqualFold(name, "Connection"):
			for _, token := range strings.Split(value, ",") {
				switch strings.ToLower(strings.TrimSpace(token)) {
				case "close":
					a.close = true
				case "keep-alive":
					a.close = false
				}
			}
		}
		if naming == "header" && strings.EqualFold(name, header) {
			a.pod = value
		}
	}
	switch {
	case n == 204 || n == 304 || n == 101:
		a.finish(naming)
	case chunked:
		a.stage = chunkSize
	case length >= 0:
		a.remaining, a.stage = length, body
		if length == 0 {
			a.finish(naming)
		}
	default:
		a.stage, a.close = untilClose, true
	}
	return nil
}

// ended tells whether the end of the connection completes the answer (one without a length ends so).
func (a *answer) ended(naming string) bool {
	if a.stage == untilClose {
		a.finish(naming)
	}
	return a.stage == complete
}

func (a *answer) finish(naming string) {
	a.stage = complete
	if naming == "body" && len(a.name) <= maxName {
		a.pod = strings.TrimSpace(string(a.name))
	}
	if len(a.pod) > 253 || strings.ContainsAny(a.pod, " \t\n") {
		a.pod = ""
	}
}

func lastToken(value string) string {
	tokens := strings.Split(value, ",")
	return strings.TrimSpace(tokens[len(tokens)-1])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
