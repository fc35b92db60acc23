// Which local uid is at the other end of a loopback TCP connection. TCP has no SO_PEERCRED, yet
// Triton's clients speak only TCP (HTTP or gRPC), and its shared-memory extension names regions
// per client: the daemon must know whose process a region request comes from. For a loopback
// connection both sockets live on this host and the kernel lists both in /proc/net/tcp or
// /proc/net/tcp6, each with the uid that owns it: the daemon's accepted socket (local = the
// daemon's address, remote = the client's) and the client's own socket (local = the client's
// address and port, remote = the daemon's). The peer's uid is the owner of the ESTABLISHED entry
// whose local address is the peer's endpoint and whose remote address is the daemon's.
//
// The owner is the uid that created the client's socket, as the kernel recorded it (in the
// daemon's user namespace; an unmapped uid reads as the overflow uid), not whoever holds the
// descriptor now. A 4-tuple names one connection at a time: if the peer closes and another process
// reuses its port before the file is read, that is the same port on the same host, which only the
// peer's own close made free; a peer that closes and reconnects races only with itself. An entry
// missing or ambiguous (two owners for one 4-tuple) gives no uid, never a guess.
#pragma once

#include <sys/types.h>

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string_view>

namespace infervisor::supervisor {

// Pure parser of one /proc/net/tcp or /proc/net/tcp6 file's text (a header line, then one line
// per socket): the uid of the ESTABLISHED (st 01) entry whose local_address is `socket_local` and
// whose rem_address is `socket_remote`. IPv4 lines hold 8 hex digits per address (the 32-bit
// address as the host prints it, %08X), IPv6 lines 32 (four such words); ports are 4 hex digits.
// Families must agree: a v4-mapped endpoint (::ffff:a.b.c.d) matches only a tcp6 line in mapped
// form. Lines that are malformed or truncated are skipped; nullopt if no entry matches, or if two
// matching entries name different uids.
std::optional<uid_t> find_tcp_socket_owner(
    std::string_view proc_net_tcp_text, const boost::asio::ip::tcp::endpoint& socket_local,
    const boost::asio::ip::tcp::endpoint& socket_remote) noexcept;

// The uid owning the client socket of an accepted loopback connection, `peer` being its remote
// endpoint and `local` the daemon's end. Reads /proc/net/tcp for an IPv4 peer and /proc/net/tcp6
// for an IPv6 one. A v4-mapped peer (a v6 listener's IPv4 client) is looked up as IPv4 in
// /proc/net/tcp first, where an AF_INET client's socket is, then in mapped form in /proc/net/tcp6
// (an AF_INET6 client that connected to ::ffff:127.0.0.1). nullopt for a peer that is not on a
// loopback address, or when the file cannot be read or holds no such entry. Called once per
// accepted TCP connection; reads the whole file each time.
std::optional<uid_t> loopback_peer_uid(const boost::asio::ip::tcp::endpoint& peer,
                                       const boost::asio::ip::tcp::endpoint& local) noexcept;

}  // namespace infervisor::supervisor
