package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned by Reader for a frame over its size limit.
var ErrTooLarge = errors.New("lifeline: frame over the size limit")

var dataField = []byte("data:")

// AppendEvent appends frame to dst as one event of an HTTP body (docs/protocol.md §2):
// each line as "data:" plus the line, then an empty line. A line that begins with a
// space gets one more, since readers drop the first.
func AppendEvent(dst, frame []byte) []byte {
	for {
		dst = append(dst, dataField...)
		if len(frame) > 0 && frame[0] == ' ' {
			dst = append(dst, ' ')
		}
		i := bytes.IndexByte(frame, '\n')
		if i < 0 {
			dst = append(dst, frame...)
			return append(dst, '\n', '\n')
		}
		dst = append(dst, frame[:i+1]...)
		frame = frame[i+1:]
	}
}

// Reader decodes the frames of an HTTP body one at a time. It is not safe for
// concurrent use.
type Reader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader of r that refuses frames over maxFrame bytes.
func NewReader(r io.Reader, maxFrame int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4096), max: maxFrame}
}

// Reset makes r read a new body, keeping its buffers (for pooling).
func (r *Reader) Reset(src io.Reader) {
	r.br.Reset(src)
	r.buf = r.buf[:0]
}

// Next returns the next frame. Its Data is valid until the next call. At the end of
// the body it returns io.EOF, or io.ErrUnexpectedEOF if the body ends inside an event.
// A frame over the limit gives an error wrapping ErrTooLarge; a malformed one, an
// error wrapping ErrMalformed.
func (r *Reader) Next() (Frame, error) {
	r.buf = r.buf[:0]
	started := false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && started {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
		if len(line) == 0 {
			if started {
				return ParseFrame(r.buf)
			}
			continue
		}
		if !bytes.HasPrefix(line, dataField) {
			continue // a comment or another field: ignored
		}
		line = line[len(dataField):]
		if len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		if started {
			r.buf = append(r.buf, '\n')
		}
		started = true
		if len(r.buf)+len(line) > r.max {
			return Frame{}, fmt.Errorf("%w (%d bytes)", ErrTooLarge, r.max)
		}
		r.buf = append(r.buf, line...)
	}
}

// readLine returns one line without its LF. Lines longer than the buffer are gathered
// (bounded by the frame limit).
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err != bufio.ErrBufferFull {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	long := append([]byte(nil), line...)
	for {
		if len(long) > r.max+len(dataField)+1 {
			return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, r.max)
		}
		line, err = r.br.ReadSlice('\n')
		long = append(long, line...)
		if err == nil {
			return long[:len(long)-1], nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
