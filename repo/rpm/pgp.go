package rpm

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// This file reads an OpenPGP signature packet from an rpm signature tag the
// way rpm 4.18's own parser does (rpmio/rpmpgp_internal.c: pgpPrtParams,
// pgpPrtSig, pgpPrtSubType, processMpis), so that Pier refuses exactly the
// signatures rpm calls "invalid OpenPGP signature", and checks the 16-bit
// digest prefix the packet carries, which rpm compares before it looks for
// the signer's key (pgpVerifySignature).

// OpenPGP numbers rpm knows.
const (
	pgpTagSignature = 2
	pgpSigBinary    = 0x00
	pgpAlgoRSA      = 1
	pgpAlgoDSA      = 17
	pgpAlgoEdDSA    = 22

	subCreationTime = 2
	subKeyExpire    = 9
	subPrimaryUID   = 25
	subIssuer       = 16
	subKeyFlags     = 27
	subEmbeddedSig  = 32
	subCritical     = 0x80
	sigSubkeyBind   = 0x18
)

// sigPacket is what rpm keeps of a signature packet.
type sigPacket struct {
	version    byte
	sigType    byte
	pubKeyAlgo byte
	hashAlgo   byte
	hashed     []byte // the packet bytes the signature covers after the data
	signHash16 [2]byte
	issuer     uint64 // the signer's key ID, 0 when the packet names none
}

// parseSignaturePacket reads b, the whole value of a signature tag, as
// exactly one OpenPGP signature packet.
func parseSignaturePacket(b []byte) (*sigPacket, error) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return nil, errors.New("no OpenPGP packet header")
	}
	var tag byte
	var hlen, blen int
	if b[0]&0x40 != 0 { // new format
		tag = b[0] & 0x3f
		switch l := int(b[1]); {
		case l < 192:
			hlen, blen = 2, l
		case l < 224:
			if len(b) < 3 {
				return nil, errors.New("truncated packet length")
			}
			hlen, blen = 3, (l-192)<<8+int(b[2])+192
		case l == 255:
			if len(b) < 6 {
				return nil, errors.New("truncated packet length")
			}
			hlen, blen = 6, int(binary.BigEndian.Uint32(b[2:6]))
		default:
			return nil, errors.New("partial body lengths are not allowed")
		}
	} else { // old format
		tag = (b[0] >> 2) & 0xf
		n := 1 << (b[0] & 3)
		if n > 4 || len(b) < 1+n {
			return nil, errors.New("bad packet length")
		}
		hlen = 1 + n
		for _, c := range b[1 : 1+n] {
			blen = blen<<8 | int(c)
		}
	}
	if tag != pgpTagSignature {
		return nil, fmt.Errorf("packet tag %d is not a signature", tag)
	}
	if blen < 0 || hlen+blen != len(b) {
		return nil, fmt.Errorf("packet of %d bytes in %d bytes of tag data", blen, len(b)-hlen)
	}
	return parseSignatureBody(b[hlen:])
}

// parseSignatureBody reads a version 3 or 4 signature packet body.
func parseSignatureBody(h []byte) (*sigPacket, error) {
	if len(h) < 1 {
		return nil, errors.New("empty signature packet")
	}
	s := &sigPacket{version: h[0]}
	var mpis []byte
	switch s.version {
	case 3:
		// version, hashed length 5, type, time[4], key id[8], algorithms, prefix
		if len(h) <= 19 || h[1] != 5 {
			return nil, errors.New("malformed version 3 signature")
		}
		s.sigType, s.pubKeyAlgo, s.hashAlgo = h[2], h[15], h[16]
		s.hashed = h[2:7]
		s.issuer = binary.BigEndian.Uint64(h[7:15])
		copy(s.signHash16[:], h[17:19])
		mpis = h[19:]
	case 4:
		if len(h) <= 6 {
			return nil, errors.New("malformed version 4 signature")
		}
		s.sigType, s.pubKeyAlgo, s.hashAlgo = h[1], h[2], h[3]
		p := h[4:]
		var st subState
		for hashed := true; ; hashed = false {
			if len(p) < 2 {
				return nil, errors.New("truncated subpacket area")
			}
			n := int(binary.BigEndian.Uint16(p))
			p = p[2:]
			if len(p) < n {
				return nil, errors.New("subpacket area runs past the packet")
			}
			if hashed {
				s.hashed = h[:6+n]
			}
			if err := st.parse(p[:n], s.sigType, hashed); err != nil {
				return nil, err
			}
			p = p[n:]
			if !hashed {
				break
			}
		}
		if !st.created {
			return nil, errors.New("no signature creation time in the hashed subpackets")
		}
		s.issuer = st.issuer
		if len(p) < 2 {
			return nil, errors.New("truncated signature")
		}
		copy(s.signHash16[:], p)
		mpis = p[2:]
		if len(mpis) == 0 {
			return nil, errors.New("no signature values")
		}
	default:
		return nil, fmt.Errorf("unsupported signature version %d", s.version)
	}
	want := map[byte]int{pgpAlgoRSA: 1, pgpAlgoDSA: 2, pgpAlgoEdDSA: 2}[s.pubKeyAlgo]
	if want == 0 {
		return nil, fmt.Errorf("public key algorithm %d is not one rpm verifies (RSA, DSA, EdDSA)", s.pubKeyAlgo)
	}
	i := 0
	for ; i < want && len(mpis) >= 2; i++ {
		n := 2 + (int(binary.BigEndian.Uint16(mpis))+7)/8
		if len(mpis) < n {
			return nil, errors.New("truncated signature value")
		}
		mpis = mpis[n:]
	}
	if i != want || len(mpis) != 0 {
		return nil, fmt.Errorf("signature values do not match algorithm %d", s.pubKeyAlgo)
	}
	return s, nil
}

// subState is what pgpPrtSubType remembers across subpackets.
type subState struct {
	created, keyFlags, keyExpire bool
	issuer                       uint64 // the first issuer key ID
}

// parse reads one subpacket area. Like rpm it understands creation time,
// issuer, key flags, key expiry, primary user ID and embedded signatures
// in their usual forms, refuses duplicates of the first and the critical
// bit on anything else, and requires the area to be consumed exactly.
func (st *subState) parse(p []byte, sigType byte, hashed bool) error {
	for len(p) > 0 {
		var n, ll int
		switch c := int(p[0]); {
		case c < 192:
			n, ll = c, 1
		case c < 255:
			if len(p) < 2 {
				return errors.New("truncated subpacket length")
			}
			n, ll = (c-192)<<8+int(p[1])+192, 2
		default:
			if len(p) < 5 {
				return errors.New("truncated subpacket length")
			}
			n, ll = int(binary.BigEndian.Uint32(p[1:5])), 5
		}
		if n < 1 || n > len(p)-ll {
			return errors.New("malformed subpacket")
		}
		sp := p[ll : ll+n]
		understood := false
		switch sp[0] &^ subCritical {
		case subCreationTime:
			if hashed && n-1 == 4 {
				if st.created {
					return errors.New("two signature creation times")
				}
				st.created, understood = true, true
			}
		case subIssuer:
			if understood = n-1 == 8; understood && st.issuer == 0 {
				st.issuer = binary.BigEndian.Uint64(sp[1:])
			}
		case subKeyFlags:
			if hashed {
				if st.keyFlags {
					return errors.New("two key flags subpackets")
				}
				st.keyFlags, understood = true, true
			}
		case subKeyExpire:
			if hashed && n-1 == 4 {
				if st.keyExpire {
					return errors.New("two key expiration times")
				}
				st.keyExpire, understood = true, true
			}
		case subEmbeddedSig:
			understood = sigType == sigSubkeyBind && hashed && n-1 >= 6
		case subPrimaryUID:
			understood = hashed && n-1 == 1
		}
		if !understood && sp[0]&subCritical != 0 {
			return fmt.Errorf("critical subpacket %d that rpm does not understand", sp[0]&^subCritical)
		}
		p = p[ll+n:]
	}
	return nil
}

// newHash returns the signature's digest, or nil for a digest rpm cannot
// compute (rpm then reports the signature NOTFOUND, not BAD).
func (s *sigPacket) newHash() hash.Hash {
	switch s.hashAlgo {
	case 1:
		return md5.New()
	case 2:
		return sha1.New()
	case 8:
		return sha256.New()
	case 9:
		return sha512.New384()
	case 10:
		return sha512.New()
	case 11:
		return sha256.New224()
	}
	return nil
}

// finish adds what an OpenPGP signature hashes after the signed data (the
// hashed packet fields and, for version 4, the trailer) and reports whether
// the digest starts with the packet's 16-bit prefix.
func (s *sigPacket) finish(h hash.Hash) bool {
	h.Write(s.hashed)
	if s.version == 4 {
		var t [6]byte
		t[0], t[1] = 4, 0xff
		binary.BigEndian.PutUint32(t[2:], uint32(len(s.hashed)))
		h.Write(t[:])
	}
	sum := h.Sum(nil)
	return sum[0] == s.signHash16[0] && sum[1] == s.signHash16[1]
}
