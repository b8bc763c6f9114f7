#include "aignehub/crypto.hpp"

#include "aignehub/errors.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace aignehub::crypto {

namespace {

constexpr std::size_t key_size = 32;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// OpenSSL queues errors per thread; one left behind would be taken for the cause of a later,
// unrelated TLS failure on the same thread, since SSL_get_error consults that queue.
[[noreturn]] void fail(const char* what) {
    ERR_clear_error();
    throw crypto_error(what);
}

// EVP counts in int.
int to_int(std::size_t n) {
    if (n > static_cast<std::size_t>(INT_MAX)) {
        fail("input too large");
    }
    return static_cast<int>(n);
}

const unsigned char* as_uchars(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// An explicit fetch walks the provider store under a lock, and the legacy getters such as
// EVP_aes_256_gcm() fetch again on every init; secrets are opened per request, so fetch once.
const EVP_CIPHER* aes_256_gcm() {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return cipher;
}

EVP_MAC* hmac() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
}

struct cipher_ctx_free {
    void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

struct mac_ctx_free {
    void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};

void check_key(std::span<const std::uint8_t> key) {
    if (key.size() != key_size) {
        fail("key must be 32 bytes");
    }
}

} // namespace

bytes random_bytes(std::size_t n) {
    bytes out(n);
    if (RAND_bytes(out.data(), to_int(n)) != 1) {
        fail("the random generator failed");
    }
    return out;
}

bytes seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> plaintext,
           std::string_view aad) {
    check_key(key);
    const int plaintext_len = to_int(plaintext.size());
    const int aad_len = to_int(aad.size());
    bytes out = random_bytes(nonce_size);
    out.resize(nonce_size + plaintext.size() + tag_size);
    std::uint8_t* const tag = out.data() + nonce_size + plaintext.size();
    const cipher_ctx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), aes_256_gcm(), nullptr, key.data(), out.data()) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, as_uchars(aad), aad_len) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.data() + nonce_size, &len, plaintext.data(),
                          plaintext_len) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), tag, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size, tag) != 1) {
        fail("encryption failed");
    }
    return out;
}

bytes open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> sealed,
           std::string_view aad) {
    check_key(key);
    if (sealed.size() < nonce_size + tag_size) {
        fail("decryption failed");
    }
    const auto ciphertext = sealed.subspan(nonce_size, sealed.size() - nonce_size - tag_size);
    // OpenSSL's SET_TAG takes a non-const pointer but only reads through it.
    auto* const tag = const_cast<std::uint8_t*>(sealed.data() + nonce_size + ciphertext.size());
    bytes out(ciphertext.size());
    const cipher_ctx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), aes_256_gcm(), nullptr, key.data(), sealed.data()) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, as_uchars(aad), to_int(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext.data(),
                          to_int(ciphertext.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), out.data() + out.size(), &len) != 1) {
        // GCM writes the plaintext before it checks the tag: none of it may outlive a refusal.
        OPENSSL_cleanse(out.data(), out.size());
        fail("decryption failed");
    }
    return out;
}

std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key,
                                         std::string_view message) {
    // To EVP_MAC_init a null key means "keep the previous key", not "the empty key".
    static constexpr std::uint8_t no_key = 0;
    const std::uint8_t* const key_data = key.empty() ? &no_key : key.data();
    std::array<char, 7> digest{"SHA256"};
    const std::array params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC* const mac = hmac();
    const std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> ctx(mac != nullptr ? EVP_MAC_CTX_new(mac)
                                                                        : nullptr);
    std::array<std::uint8_t, 32> out{};
    std::size_t len = 0;
    if (!ctx || EVP_MAC_init(ctx.get(), key_data, key.size(), params.data()) != 1 ||
        EVP_MAC_update(ctx.get(), as_uchars(message), message.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
        fail("HMAC-SHA-256 failed");
    }
    return out;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64_encode(std::span<const std::uint8_t> data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, data.size() - i);
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 3; ++k) {
            group = group << 8u | (k < n ? data[i + k] : 0u);
        }
        for (std::size_t k = 0; k < 4; ++k) {
            out.push_back(k <= n ? base64_alphabet[group >> (18 - 6 * k) & 0x3Fu] : '=');
        }
    }
    return out;
}

std::optional<bytes> base64_decode(std::string_view text) {
    constexpr std::string_view space = " \t\r\n\f\v";
    const std::size_t first = text.find_first_not_of(space);
    if (first == std::string_view::npos) {
        return bytes{};
    }
    text = text.substr(first, text.find_last_not_of(space) - first + 1);
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    const std::size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
    bytes out;
    out.reserve(text.size() / 4 * 3 - pad);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const std::size_t n = i + 4 == text.size() ? 3 - pad : 3; // bytes this group holds
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            std::size_t sextet = 0;
            if (k <= n) {
                sextet = base64_alphabet.find(text[i + k]); // '=' is not in it either
                if (sextet == std::string_view::npos) {
                    return std::nullopt;
                }
            }
            group = group << 6u | static_cast<std::uint32_t>(sextet);
        }
        // Nonzero unused bits would give one byte string several encodings.
        if ((group & ((1u << (8 * (3 - n))) - 1)) != 0) {
            return std::nullopt;
        }
        for (std::size_t k = 0; k < n; ++k) {
            out.push_back(static_cast<std::uint8_t>(group >> (16 - 8 * k)));
        }
    }
    return out;
}

std::string hex_encode(std::span<const std::uint8_t> data) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (const std::uint8_t b : data) {
        out.push_back(digits[b >> 4u]);
        out.push_back(digits[b & 0x0Fu]);
    }
    return out;
}

} // namespace aignehub::crypto
