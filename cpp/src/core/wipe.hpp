#pragma once

#include <openssl/crypto.h>

namespace aignehub::detail {

/// Overwrites a buffer that held a secret (a key, a decrypted credential, a request head
/// carrying one) when it goes out of scope, on the exception path too, so that no freed heap
/// block still holds it. Works on any contiguous container with data() and size().
template <class Buffer> class wipe_on_exit {
public:
    explicit wipe_on_exit(Buffer& buffer) noexcept : buffer_(buffer) {}
    wipe_on_exit(const wipe_on_exit&) = delete;
    wipe_on_exit& operator=(const wipe_on_exit&) = delete;
    wipe_on_exit(wipe_on_exit&&) = delete;
    wipe_on_exit& operator=(wipe_on_exit&&) = delete;
    ~wipe_on_exit() { OPENSSL_cleanse(buffer_.data(), buffer_.size() * sizeof(*buffer_.data())); }

private:
    Buffer& buffer_;
};

} // namespace aignehub::detail
