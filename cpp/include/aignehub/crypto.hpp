#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

/// Primitives for secrets at rest (AES-256-GCM envelope encryption, HMAC-SHA-256) and the master
/// keys that protect them. Failures throw crypto_error, config_error or store_error; no message
/// ever holds key material, plaintext or the text a key was parsed from.
namespace aignehub::crypto {

using bytes = std::vector<std::uint8_t>;

/// `n` bytes from the OpenSSL CSPRNG. Throws crypto_error when it cannot produce them.
[[nodiscard]] bytes random_bytes(std::size_t n);

/// Encrypts `plaintext` with AES-256-GCM under a 32-byte `key` and a fresh random 96-bit nonce,
/// authenticating `aad` too. Returns nonce (12 bytes) || ciphertext || tag (16 bytes).
[[nodiscard]] bytes seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> plaintext,
                         std::string_view aad);

/// Verifies and decrypts the output of seal(). Throws crypto_error("decryption failed") when the
/// key or `aad` differ, any bit of `sealed` changed or it is too short; crypto_error when `key`
/// is not 32 bytes.
[[nodiscard]] bytes open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> sealed,
                         std::string_view aad);

/// HMAC-SHA-256 of `message` under `key` (any length, empty included).
[[nodiscard]] std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key,
                                                       std::string_view message);

/// Compares in time that depends only on the sizes; false when the sizes differ.
[[nodiscard]] bool constant_time_equal(std::span<const std::uint8_t> a,
                                       std::span<const std::uint8_t> b);

/// Standard base64 alphabet, padded.
[[nodiscard]] std::string base64_encode(std::span<const std::uint8_t> data);

/// Strict standard base64: nullopt on a character outside the alphabet, missing or misplaced
/// padding, or unused bits that are not zero (so each byte string has exactly one encoding).
/// Whitespace around the text is ignored, whitespace inside it is not.
[[nodiscard]] std::optional<bytes> base64_decode(std::string_view text);

/// Lowercase hexadecimal.
[[nodiscard]] std::string hex_encode(std::span<const std::uint8_t> data);

/// A master key and its public id: the hex of the first 8 bytes of
/// hmac_sha256(key, "aignehub/master-key-id/v1"). The id names the key in stored rows and in
/// messages; it reveals nothing about the key.
struct master_key {
    std::string id;
    std::array<std::uint8_t, 32> key;
};

/// A master key from 32 bytes, with its id computed. Throws crypto_error on another size.
[[nodiscard]] master_key make_master_key(std::span<const std::uint8_t> key32);

/// A new random master key.
[[nodiscard]] master_key generate_master_key();

/// A secret sealed by envelope encryption: the secret under its own random data key, and the
/// data key under a master key. Both are bound to the row's identity, so neither can be moved to
/// another row, and rotating the master key rewraps 60 bytes without touching the secret.
struct sealed_secret {
    bytes ciphertext;   ///< seal(data_key, secret, "aignehub/secret/v1|" + identity)
    bytes wrapped_key;  ///< seal(master.key, data_key, "aignehub/data-key/v1|" + identity)
    std::string key_id; ///< id of the master key that wrapped the data key
};

/// The master keys in force. The first is the primary: new secrets and rewraps use it. The others
/// can still unwrap data keys sealed before a rotation. Immutable, so safe to share between
/// threads. Never logs or prints key material.
class keyring {
public:
    /// Throws config_error when `keys` is empty, two ids repeat, or an id is not its key's.
    explicit keyring(std::vector<master_key> keys);

    [[nodiscard]] const master_key& primary() const noexcept { return keys_.front(); }
    /// The key with this id, or nullptr when it is not loaded.
    [[nodiscard]] const master_key* find(std::string_view id) const noexcept;
    [[nodiscard]] const std::vector<master_key>& keys() const noexcept { return keys_; }

    /// Seals `secret` under a fresh random data key wrapped by primary(). `identity` names the row
    /// that will hold it, e.g. "credential/12"; open_secret() must be given the same.
    [[nodiscard]] sealed_secret seal_secret(std::string_view secret,
                                            std::string_view identity) const;

    /// Unwraps the data key and decrypts the secret. Throws crypto_error when the master key
    /// `s.key_id` is not loaded (naming the id) or when anything fails to authenticate, such as
    /// another row's identity ("decryption failed").
    [[nodiscard]] std::string open_secret(const sealed_secret& s, std::string_view identity) const;

    /// The same secret with its data key wrapped by primary() instead, for master-key rotation.
    /// The ciphertext is kept as it is. Throws like open_secret().
    [[nodiscard]] sealed_secret rewrap(const sealed_secret& s, std::string_view identity) const;

    /// Parses the value of AIGNEHUB_MASTER_KEY: base64 keys of 32 bytes separated by commas, the
    /// first being the primary. Throws config_error naming the position of a bad key, never its
    /// text.
    [[nodiscard]] static keyring parse_env(std::string_view value);

    /// Reads a key file: one base64 key per line, the first being the primary; blank lines and
    /// lines starting with '#' are ignored. Throws config_error when the file is accessible to
    /// group or others, unreadable, holds no key, or has a malformed line (named by number, never
    /// by content).
    [[nodiscard]] static keyring read_file(const std::filesystem::path& path);

    /// Replaces `path` atomically with a 0600 key file holding `keys` (first = primary), durable
    /// once this returns. Throws config_error when `keys` is empty, store_error on I/O failure.
    static void write_file(const std::filesystem::path& path, const std::vector<master_key>& keys);

private:
    std::vector<master_key> keys_;
};

} // namespace aignehub::crypto
