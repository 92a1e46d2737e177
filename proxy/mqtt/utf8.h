#pragma once

#include <string_view>

namespace moat::mqtt {

// True if `text` is an MQTT UTF-8 Encoded String (spec 1.5.4): well-formed UTF-8
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) without U+0000
// [MQTT-1.5.4-1, -2]. Like mosquitto, it also refuses the control characters
// U+0001..U+001F and U+007F..U+009F and the non-characters, which the spec allows a
// receiver to refuse: a string the broker behind would refuse must not pass moat.
bool IsValidMqttUtf8(std::string_view text);

}  // namespace moat::mqtt
