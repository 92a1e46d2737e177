// The Origin values a WebSocket listener compares (listeners[].websocket_origins). A
// browser sends the origin of the page that opens a WebSocket, serialized as RFC 6454
// section 6.2 says: scheme "://" host [":" port], scheme and host in lower case, the
// scheme's default port left out. Both the configured values and the header go through
// NormalizeOrigin(), so "HTTPS://HMI.example:443" in the file matches the browser's
// "https://hmi.example".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moat::config {

// `origin` with scheme and host lower-cased and a default port (80 for http and ws, 443
// for https and wss) dropped; nullopt when it is not scheme "://" host [":" port]: a
// path (even "/"), a query, user info, spaces, an empty host or port, or the opaque
// origin "null" that sandboxed pages and file: URLs send.
std::optional<std::string> NormalizeOrigin(std::string_view origin);

}  // namespace moat::config
