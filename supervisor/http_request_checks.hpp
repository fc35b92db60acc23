// What a request's head must satisfy before anything else is done with it, judged once Beast has
// parsed the header: a framing that two HTTP implementations could read differently is refused
// (request smuggling), as are a missing or repeated Host and too many header fields.
// Pure: no I/O, tested without a socket.
#pragma once

#include <boost/beast/http/message.hpp>
#include <optional>

#include "supervisor/http_limits.hpp"
#include "supervisor/http_reply.hpp"

namespace infervisor::supervisor {

using HttpRequestHead = boost::beast::http::request_header<>;

// nullopt if the head is fine; otherwise the error to answer with, after which the connection
// closes without reading the body (its framing may be exactly what is wrong):
//   400  Transfer-Encoding whose last coding is not chunked, or with chunked twice, or empty, or
//        in an HTTP/1.0 request (RFC 9112 6.1); with Content-Length too (6.3); no Host, or more
//        than one, in an HTTP/1.1 request (RFC 9112 3.2)
//   501  a transfer coding other than chunked (RFC 9112 6.1: one the server does not understand)
//   431  more than limits.max_header_fields fields (the byte limit is Beast's header_limit)
std::optional<HttpReply> refuse_request_head(const HttpRequestHead& head, const HttpLimits& limits);

}  // namespace infervisor::supervisor
