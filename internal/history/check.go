package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt maps the file into memory and follows the page numbers it finds
// there; a page past the end of the file is a SIGBUS, which recover cannot
// catch. So before bbolt sees a file, Check reads its two meta pages the
// way bbolt chooses between them and proves that every page they point at
// lies inside the file. Damage inside the file that this cannot see is
// left to the fault guard (guard.go).

// Layout of bbolt's format 2 (go.etcd.io/bbolt internal/common): each page
// starts with a 16-byte header (id, flags, count, overflow); a meta page's
// body is magic, version, page size and flags (uint32 each), the root
// bucket (root page, sequence), the freelist page, the high-water page
// number and the transaction id (uint64 each), then an FNV-64a checksum of
// everything before it. Integers are in the machine's byte order.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64 // the fields through the checksum
	metaSummedSize = 56 // what the checksum covers
	noFreelist     = ^uint64(0)
	// maxPageSize bounds the search for the second meta page, as bbolt's
	// own does (1 KiB to 16 MiB).
	maxPageSize = 16 << 20
)

// meta is a bbolt meta page as read from the file.
type meta struct {
	pageSize            uint32
	root, freelist, hwm uint64
	txid                uint64
	valid               bool
}

func parseMeta(page []byte) meta {
	if len(page) < pageHeaderSize+metaSize {
		return meta{}
	}
	b := page[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[:metaSummedSize])
	return meta{
		pageSize: ne.Uint32(b[8:]),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		hwm:      ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
		valid: ne.Uint32(b[0:]) == boltMagic && ne.Uint32(b[4:]) == boltVersion &&
			ne.Uint64(b[56:]) == h.Sum64(),
	}
}

// ErrDamaged is a history file that cannot be read as one: not a bbolt
// file, cut short, or failing bbolt's own checks.
var ErrDamaged = errors.New("damaged")

// Check reads the history file at path without mapping or locking it and
// returns an error wrapping ErrDamaged when bbolt could not use it safely.
// A missing or empty file is fine (bbolt starts a new one); an error
// reading it is returned as it is.
func Check(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		// Not damage to move aside: something made it by mistake.
		return errors.New("is a directory, not a file")
	}
	if fi.Size() == 0 {
		return nil
	}
	return checkPages(f, fi.Size())
}

func checkPages(r io.ReaderAt, size int64) error {
	read := func(off int64, n int) []byte {
		buf := make([]byte, n)
		k, _ := r.ReadAt(buf, off)
		return buf[:k]
	}
	m0 := parseMeta(read(0, pageHeaderSize+metaSize))
	var m1 meta
	if m0.valid && m0.pageSize >= 1024 && m0.pageSize <= maxPageSize {
		m1 = parseMeta(read(int64(m0.pageSize), pageHeaderSize+metaSize))
	} else {
		for ps := int64(1024); ps <= maxPageSize && ps < size; ps <<= 1 {
			if m1 = parseMeta(read(ps, pageHeaderSize+metaSize)); m1.valid {
				break
			}
		}
	}
	// bbolt uses the meta page with the higher transaction id when its
	// checksum holds, else the other one.
	a, b := m0, m1
	if m1.txid > m0.txid {
		a, b = m1, m0
	}
	chosen := a
	if !a.valid {
		chosen = b
	}
	if !chosen.valid {
		return fmt.Errorf("%w: neither meta page is a valid bbolt meta page (not a history file, or overwritten)", ErrDamaged)
	}
	ps := uint64(chosen.pageSize)
	switch {
	case ps < 1024 || ps > maxPageSize:
		return fmt.Errorf("%w: page size %d in its meta page", ErrDamaged, ps)
	case chosen.hwm > uint64(size)/ps:
		return fmt.Errorf("%w: cut short: its pages reach %d bytes, the file has %d", ErrDamaged, chosen.hwm*ps, size)
	case chosen.root >= chosen.hwm:
		return fmt.Errorf("%w: root page %d beyond the last page %d", ErrDamaged, chosen.root, chosen.hwm)
	case chosen.freelist != noFreelist && chosen.freelist >= chosen.hwm:
		return fmt.Errorf("%w: freelist page %d beyond the last page %d", ErrDamaged, chosen.freelist, chosen.hwm)
	}
	if chosen.freelist != noFreelist {
		// The freelist may span pages: its header counts the overflow.
		header := read(int64(chosen.freelist*ps), pageHeaderSize)
		if len(header) < pageHeaderSize {
			return fmt.Errorf("%w: cut short inside its freelist page", ErrDamaged)
		}
		if last := chosen.freelist + uint64(binary.NativeEndian.Uint32(header[12:])); last >= chosen.hwm {
			return fmt.Errorf("%w: freelist runs to page %d, beyond the last page %d", ErrDamaged, last, chosen.hwm)
		}
	}
	return nil
}
