package server

// SetStreamProbeOdds makes one data write in n of a stream not yet shown prompt carry a
// probe (stream.go), for the tests that follow a stream's probes; it returns the
// restore.
func SetStreamProbeOdds(n int32) (restore func()) {
	old := streamProbeOdds.Swap(n)
	return func() { streamProbeOdds.Store(old) }
}
