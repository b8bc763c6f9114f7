#include "aignehub/crypto.hpp"

#include "aignehub/errors.hpp"
#include "core/wipe.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aignehub::crypto {

namespace {

constexpr std::size_t master_key_size = 32;
constexpr std::string_view key_id_label = "aignehub/master-key-id/v1";
constexpr std::string_view secret_label = "aignehub/secret/v1|";
constexpr std::string_view data_key_label = "aignehub/data-key/v1|";

constexpr std::string_view key_file_header =
    "# aignehub master keys. They decrypt the provider credentials and other secrets stored in\n"
    "# aignehub's database: do not lose this file, keep a backup of it, and keep it private.\n"
    "# One base64 key per line; the first is the primary. Keep older keys until every secret\n"
    "# has been rewrapped under the primary.\n";

std::string aad(std::string_view label, std::string_view identity) {
    std::string out(label);
    out.append(identity);
    return out;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view space = " \t\r\n\f\v";
    const std::size_t first = s.find_first_not_of(space);
    return first == std::string_view::npos ? std::string_view{}
                                           : s.substr(first, s.find_last_not_of(space) - first + 1);
}

// Data keys and decrypted secrets are zeroed as soon as the call is done with them.
using wipe_on_exit = aignehub::detail::wipe_on_exit<bytes>;

class unique_fd {
public:
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    int fd_;
};

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::optional<master_key> decode_master_key(std::string_view text) {
    const auto key = base64_decode(text);
    if (!key || key->size() != master_key_size) {
        return std::nullopt;
    }
    return make_master_key(*key);
}

bytes unwrap_data_key(const keyring& ring, const sealed_secret& s, std::string_view identity) {
    const master_key* master = ring.find(s.key_id);
    if (master == nullptr) {
        throw crypto_error("the master key " + s.key_id + " that sealed this secret is not loaded");
    }
    return open(master->key, s.wrapped_key, aad(data_key_label, identity));
}

} // namespace

master_key make_master_key(std::span<const std::uint8_t> key32) {
    if (key32.size() != master_key_size) {
        throw crypto_error("a master key must be 32 bytes");
    }
    master_key m{};
    std::copy(key32.begin(), key32.end(), m.key.begin());
    const auto digest = hmac_sha256(key32, key_id_label);
    m.id = hex_encode(std::span(digest).first(8));
    return m;
}

master_key generate_master_key() {
    bytes key = random_bytes(master_key_size);
    const wipe_on_exit wipe(key);
    return make_master_key(key);
}

keyring::keyring(std::vector<master_key> keys) : keys_(std::move(keys)) {
    if (keys_.empty()) {
        throw config_error("no master key is configured");
    }
    for (auto it = keys_.begin(); it != keys_.end(); ++it) {
        // Rows record the id of the key that wrapped them and every start derives ids afresh
        // from the keys, so an id that is not its key's would strand the rows sealed under it.
        if (it->id != make_master_key(it->key).id) {
            throw config_error("a master key's id does not match its key");
        }
        if (std::any_of(keys_.begin(), it, [&](const master_key& k) { return k.id == it->id; })) {
            throw config_error("the master key " + it->id + " is listed twice");
        }
    }
}

const master_key* keyring::find(std::string_view id) const noexcept {
    const auto it =
        std::find_if(keys_.begin(), keys_.end(), [&](const master_key& k) { return k.id == id; });
    return it == keys_.end() ? nullptr : &*it;
}

sealed_secret keyring::seal_secret(std::string_view secret, std::string_view identity) const {
    bytes data_key = random_bytes(master_key_size);
    const wipe_on_exit wipe(data_key);
    const master_key& master = primary();
    return {seal(data_key, as_bytes(secret), aad(secret_label, identity)),
            seal(master.key, data_key, aad(data_key_label, identity)), master.id};
}

std::string keyring::open_secret(const sealed_secret& s, std::string_view identity) const {
    bytes data_key = unwrap_data_key(*this, s, identity);
    const wipe_on_exit wipe_key(data_key);
    bytes plain = open(data_key, s.ciphertext, aad(secret_label, identity));
    const wipe_on_exit wipe_plain(plain);
    return {reinterpret_cast<const char*>(plain.data()), plain.size()};
}

sealed_secret keyring::rewrap(const sealed_secret& s, std::string_view identity) const {
    bytes data_key = unwrap_data_key(*this, s, identity);
    const wipe_on_exit wipe(data_key);
    const master_key& master = primary();
    return {s.ciphertext, seal(master.key, data_key, aad(data_key_label, identity)), master.id};
}

keyring keyring::parse_env(std::string_view value) {
    std::vector<master_key> keys;
    for (std::size_t n = 1;; ++n) {
        const std::size_t comma = value.find(',');
        auto key = decode_master_key(value.substr(0, comma));
        if (!key) {
            throw config_error("AIGNEHUB_MASTER_KEY: key " + std::to_string(n) +
                               " is not base64 of 32 bytes");
        }
        keys.push_back(std::move(*key));
        if (comma == std::string_view::npos) {
            return keyring(std::move(keys));
        }
        value.remove_prefix(comma + 1);
    }
}

keyring keyring::read_file(const std::filesystem::path& path) {
    const std::string name = path.string();
    const unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
        throw config_error("cannot read the master key file " + name + ": " + std::strerror(errno));
    }
    // Checked on the open file rather than the path, so the file read is the file checked.
    if ((st.st_mode & 077u) != 0) {
        throw config_error("the master key file " + name +
                           " is accessible to group or others; chmod 600 " + name);
    }
    std::string text;
    std::array<char, 4096> chunk{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw config_error("cannot read the master key file " + name + ": " +
                               std::strerror(errno));
        }
        text.append(chunk.data(), static_cast<std::size_t>(n));
    }

    std::vector<master_key> keys;
    std::size_t line_no = 0;
    for (std::string_view rest = text; !rest.empty();) {
        const std::size_t eol = rest.find('\n');
        const std::string_view line = trim(rest.substr(0, eol));
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
        ++line_no;
        if (line.empty() || line.front() == '#') {
            continue;
        }
        auto key = decode_master_key(line);
        if (!key) {
            throw config_error("the master key file " + name + ": line " + std::to_string(line_no) +
                               " is not base64 of 32 bytes");
        }
        keys.push_back(std::move(*key));
    }
    if (keys.empty()) {
        throw config_error("the master key file " + name + " holds no key");
    }
    return keyring(std::move(keys));
}

void keyring::write_file(const std::filesystem::path& path, const std::vector<master_key>& keys) {
    // Writing no key would replace the only copy of the keys with nothing.
    if (keys.empty()) {
        throw config_error("refusing to write a master key file without keys");
    }
    std::string text(key_file_header);
    for (const master_key& k : keys) {
        text += base64_encode(k.key);
        text += '\n';
    }
    // Same directory, so the rename is atomic; a random name, so O_EXCL never meets a leftover.
    const std::filesystem::path temp = path.string() + ".tmp-" + hex_encode(random_bytes(8));
    const unique_fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
        throw store_error("cannot create " + temp.string() + ": " + std::strerror(errno));
    }
    if (!write_all(fd.get(), text) || ::fsync(fd.get()) != 0 ||
        ::rename(temp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw store_error("cannot write the master key file " + path.string() + ": " +
                          std::strerror(err));
    }
    // The new file is durable only once its directory entry is.
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
        throw store_error("cannot sync the directory of " + path.string() + ": " +
                          std::strerror(errno));
    }
}

} // namespace aignehub::crypto
