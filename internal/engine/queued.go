package engine

// Queued returns the payload bytes the session holds: written and not yet
// acknowledged by the peer (out), and received and not yet read (in).
func (s *Session) Queued() (out, in int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outBytes, s.inBytes
}
