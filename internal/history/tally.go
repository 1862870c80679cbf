package history

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// bucketTallies holds counters that are not events (how each alert
// delivery went), kept apart from Counts' kinds. Made at the first Tally:
// a file without it reads as all zero, and older builds ignore it.
var bucketTallies = []byte("tallies")

// Tally adds one to the counter name, in one transaction, so that the
// server and the report after its death (ExecStopPost) both count into
// it; it outlives restarts like Counts.
func (s *Store) Tally(name string) (err error) {
	defer guard(s.path, &err)()
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTallies)
		if err != nil {
			return err
		}
		return count(b, name)
	})
}

// Tallies returns every counter Tally made, by name.
func (s *Store) Tallies() (map[string]uint64, error) { return s.counters(bucketTallies) }

// counters reads a bucket of counters (count's big-endian uint64s); a
// missing bucket reads as none.
func (s *Store) counters(bucket []byte) (out map[string]uint64, err error) {
	defer guard(s.path, &err)()
	out = map[string]uint64{}
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	return out, err
}
