package producer

import "strconv"

// reservedV4 are the IPv4 blocks that are not public unicast addresses
// (IANA special-purpose registry, RFC 6890 and successors): a generated
// client address never falls in one.
var reservedV4 = []struct{ base, mask uint32 }{
	{0x00000000, 0xff000000}, // 0.0.0.0/8 "this network"
	{0x0a000000, 0xff000000}, // 10.0.0.0/8 private
	{0x64400000, 0xffc00000}, // 100.64.0.0/10 carrier-grade NAT
	{0x7f000000, 0xff000000}, // 127.0.0.0/8 loopback
	{0xa9fe0000, 0xffff0000}, // 169.254.0.0/16 link local
	{0xac100000, 0xfff00000}, // 172.16.0.0/12 private
	{0xc0000000, 0xffffff00}, // 192.0.0.0/24 IETF protocol assignments
	{0xc0000200, 0xffffff00}, // 192.0.2.0/24 TEST-NET-1
	{0xc0586300, 0xffffff00}, // 192.88.99.0/24 6to4 relay anycast (deprecated)
	{0xc0a80000, 0xffff0000}, // 192.168.0.0/16 private
	{0xc6120000, 0xfffe0000}, // 198.18.0.0/15 benchmarking
	{0xc6336400, 0xffffff00}, // 198.51.100.0/24 TEST-NET-2
	{0xcb007100, 0xffffff00}, // 203.0.113.0/24 TEST-NET-3
	{0xe0000000, 0xf0000000}, // 224.0.0.0/4 multicast
	{0xf0000000, 0xf0000000}, // 240.0.0.0/4 reserved, and the broadcast address
}

func publicV4(a uint32) bool {
	for _, r := range reservedV4 {
		if a&r.mask == r.base {
			return false
		}
	}
	return true
}

// userIPv4 is the public IPv4 address of user n: a pure function of the
// seed and the user, so one user keeps one address across a run and runs.
func userIPv4(seed int64, user uint64) uint32 {
	x := uint64(seed) ^ (user * 0xd6e8feb86659fd93)
	for {
		x = splitmix64(x)
		if a := uint32(x >> 32); publicV4(a) {
			return a
		}
	}
}

func appendIPv4(dst []byte, a uint32) []byte {
	dst = strconv.AppendUint(dst, uint64(a>>24), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(a>>16&0xff), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(a>>8&0xff), 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, uint64(a&0xff), 10)
}
