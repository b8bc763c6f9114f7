#include "aignehub/crypto.hpp"
#include "aignehub/errors.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

namespace aignehub::crypto {
namespace {

bytes to_bytes(std::string_view s) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    return {p, p + s.size()};
}

bytes from_hex(std::string_view hex) {
    bytes out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(
            static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

// The message of the crypto_error `f` throws, or a failure when it throws none.
std::string crypto_failure(const std::function<void()>& f) {
    try {
        f();
    } catch (const crypto_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "no crypto_error was thrown";
    return {};
}

std::string config_failure(const std::function<void()>& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "no config_error was thrown";
    return {};
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

TEST(CryptoSeal, RoundTripsIncludingEmptyPlaintext) {
    const bytes key = random_bytes(32);
    for (const std::size_t size : {0u, 1u, 15u, 16u, 17u, 1000u}) {
        const bytes plaintext = random_bytes(size);
        const bytes sealed = seal(key, plaintext, "aad");
        EXPECT_EQ(sealed.size(), 12 + size + 16);
        EXPECT_EQ(open(key, sealed, "aad"), plaintext) << "size " << size;
    }
    EXPECT_EQ(open(key, seal(key, to_bytes("no aad"), ""), ""), to_bytes("no aad"));
}

TEST(CryptoSeal, SamePlaintextSealsDifferently) {
    const bytes key = random_bytes(32);
    const bytes a = seal(key, to_bytes("same"), "aad");
    const bytes b = seal(key, to_bytes("same"), "aad");
    EXPECT_NE(bytes(a.begin(), a.begin() + 12), bytes(b.begin(), b.begin() + 12));
    EXPECT_NE(a, b);
}

TEST(CryptoSeal, EveryFlippedBitIsRefused) {
    const bytes key = random_bytes(32);
    const bytes sealed = seal(key, to_bytes("attack at dawn"), "aad");
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        for (unsigned bit = 0; bit < 8; ++bit) {
            bytes tampered = sealed;
            tampered[i] ^= static_cast<std::uint8_t>(1u << bit);
            EXPECT_EQ(crypto_failure([&] { (void)open(key, tampered, "aad"); }),
                      "decryption failed")
                << "byte " << i << " bit " << bit;
        }
    }
}

TEST(CryptoSeal, WrongAadIsRefused) {
    const bytes key = random_bytes(32);
    const bytes sealed = seal(key, to_bytes("secret"), "credential/1");
    EXPECT_EQ(crypto_failure([&] { (void)open(key, sealed, "credential/2"); }),
              "decryption failed");
    EXPECT_EQ(crypto_failure([&] { (void)open(key, sealed, ""); }), "decryption failed");
}

TEST(CryptoSeal, WrongKeyIsRefused) {
    const bytes sealed = seal(random_bytes(32), to_bytes("secret"), "aad");
    EXPECT_EQ(crypto_failure([&] { (void)open(random_bytes(32), sealed, "aad"); }),
              "decryption failed");
}

TEST(CryptoSeal, ShortInputIsRefused) {
    const bytes key = random_bytes(32);
    const bytes sealed = seal(key, {}, "aad"); // 28 bytes: the shortest valid input
    for (std::size_t size = 0; size < sealed.size(); ++size) {
        const bytes cut(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(size));
        EXPECT_EQ(crypto_failure([&] { (void)open(key, cut, "aad"); }), "decryption failed")
            << "size " << size;
    }
}

TEST(CryptoSeal, KeyOfWrongSizeIsRefused) {
    const bytes good = seal(random_bytes(32), to_bytes("x"), "");
    for (const std::size_t size : {0u, 16u, 31u, 33u, 64u}) {
        const bytes key = random_bytes(size);
        EXPECT_EQ(crypto_failure([&] { (void)seal(key, to_bytes("x"), ""); }),
                  "key must be 32 bytes");
        EXPECT_EQ(crypto_failure([&] { (void)open(key, good, ""); }), "key must be 32 bytes");
    }
}

TEST(CryptoHmac, MatchesRfc4231AndTheEmptyKey) {
    struct vector {
        bytes key;
        std::string message;
        std::string digest;
    };
    const std::vector<vector> vectors = {
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed first).
        {bytes(20, 0x0b), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {to_bytes("Jefe"), "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {bytes(131, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {{}, "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
    };
    for (const auto& v : vectors) {
        EXPECT_EQ(hex_encode(hmac_sha256(v.key, v.message)), v.digest) << v.message;
    }
}

TEST(CryptoCompare, ConstantTimeEqual) {
    const bytes a = from_hex("00112233445566778899");
    bytes b = a;
    EXPECT_TRUE(constant_time_equal(a, b));
    b.back() ^= 1;
    EXPECT_FALSE(constant_time_equal(a, b));
    EXPECT_FALSE(constant_time_equal(a, std::span(a).first(a.size() - 1)));
    EXPECT_TRUE(constant_time_equal(bytes{}, bytes{}));
}

TEST(CryptoBase64, MatchesRfc4648AndRoundTrips) {
    const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                      {"f", "Zg=="},
                                                                      {"fo", "Zm8="},
                                                                      {"foo", "Zm9v"},
                                                                      {"foob", "Zm9vYg=="},
                                                                      {"fooba", "Zm9vYmE="},
                                                                      {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(to_bytes(plain)), encoded);
        EXPECT_EQ(base64_decode(encoded), to_bytes(plain));
    }
    bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i) {
        all[i] = static_cast<std::uint8_t>(i);
    }
    EXPECT_EQ(base64_decode(base64_encode(all)), all);
    for (std::size_t size = 0; size < 40; ++size) {
        const bytes data = random_bytes(size);
        EXPECT_EQ(base64_decode(base64_encode(data)), data);
    }
    EXPECT_EQ(base64_decode(" \t Zm9v\r\n"), to_bytes("foo"));
}

TEST(CryptoBase64, StrictDecodingRejects) {
    for (const std::string_view bad : {
             "Zm9",      // not a multiple of 4
             "Zm9vY",    // ditto
             "Zm9v=",    // padding after a full group
             "Zg=",      // short padding
             "Z===",     // too much padding
             "====",     // padding only
             "Zm=v",     // padding inside a group
             "Zg==Zm9v", // padding before the last group
             "Zm 9v",    // whitespace inside
             "Zh==",     // unused bits set: "Zg==" is the only encoding of "f"
             "Zm9=",     // ditto for two bytes
             "Zm9-",     // URL-safe alphabet
             "Zm9_",     // ditto
             "Zm9v!!!!", // outside the alphabet
         }) {
        EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(base64_decode(std::string_view("Zm\0v", 4)), std::nullopt);
}

TEST(CryptoHex, IsLowercase) {
    EXPECT_EQ(hex_encode(from_hex("0001abff7f")), "0001abff7f");
    EXPECT_EQ(hex_encode(bytes{0xDE, 0xAD, 0xBE, 0xEF}), "deadbeef");
    EXPECT_EQ(hex_encode(bytes{}), "");
}

TEST(CryptoMasterKey, IdIsDerivedFromTheKey) {
    const bytes raw = random_bytes(32);
    const master_key k = make_master_key(raw);
    EXPECT_EQ(bytes(k.key.begin(), k.key.end()), raw);
    EXPECT_EQ(k.id, hex_encode(hmac_sha256(raw, "aignehub/master-key-id/v1")).substr(0, 16));
    EXPECT_NE(generate_master_key().id, generate_master_key().id);
    EXPECT_THROW((void)make_master_key(random_bytes(31)), crypto_error);
}

TEST(KeyringSecret, RoundTrips) {
    const keyring ring({generate_master_key()});
    for (const std::string secret : {"sk-live-0123456789", ""}) {
        const sealed_secret s = ring.seal_secret(secret, "credential/12");
        EXPECT_EQ(s.key_id, ring.primary().id);
        EXPECT_EQ(s.wrapped_key.size(), 12u + 32u + 16u);
        EXPECT_EQ(s.ciphertext.size(), 12 + secret.size() + 16);
        EXPECT_EQ(ring.open_secret(s, "credential/12"), secret);
    }
}

TEST(KeyringSecret, RowSwapIsRefused) {
    const keyring ring({generate_master_key()});
    const sealed_secret s = ring.seal_secret("sk-live-0123456789", "credential/12");
    EXPECT_EQ(crypto_failure([&] { (void)ring.open_secret(s, "credential/13"); }),
              "decryption failed");
}

TEST(KeyringSecret, WrappedKeyMovedToAnotherRowIsRefused) {
    const keyring ring({generate_master_key()});
    const sealed_secret a = ring.seal_secret("secret of row 1", "credential/1");
    const sealed_secret b = ring.seal_secret("secret of row 2", "credential/2");
    const sealed_secret moved{b.ciphertext, a.wrapped_key, a.key_id};
    EXPECT_EQ(crypto_failure([&] { (void)ring.open_secret(moved, "credential/2"); }),
              "decryption failed");
    const sealed_secret mixed{a.ciphertext, b.wrapped_key, b.key_id};
    EXPECT_EQ(crypto_failure([&] { (void)ring.open_secret(mixed, "credential/1"); }),
              "decryption failed");
}

TEST(KeyringSecret, UnknownKeyIdIsRefusedNamingTheIdOnly) {
    const keyring sealer({generate_master_key()});
    const keyring other({generate_master_key()});
    const sealed_secret s = sealer.seal_secret("sk-live-0123456789", "credential/12");
    const std::string expected =
        "the master key " + sealer.primary().id + " that sealed this secret is not loaded";
    EXPECT_EQ(crypto_failure([&] { (void)other.open_secret(s, "credential/12"); }), expected);
    EXPECT_EQ(crypto_failure([&] { (void)other.rewrap(s, "credential/12"); }), expected);
}

TEST(KeyringSecret, RewrapMovesTheDataKeyToANewPrimary) {
    const master_key old_key = generate_master_key();
    const master_key new_key = generate_master_key();
    const std::string secret = "sk-live-0123456789";
    const sealed_secret before = keyring({old_key}).seal_secret(secret, "credential/12");
    const sealed_secret untouched = keyring({old_key}).seal_secret(secret, "credential/13");

    const keyring rotated({new_key, old_key});
    const sealed_secret after = rotated.rewrap(before, "credential/12");
    EXPECT_EQ(after.key_id, new_key.id);
    EXPECT_NE(after.key_id, before.key_id);
    EXPECT_NE(after.wrapped_key, before.wrapped_key);
    EXPECT_EQ(after.ciphertext, before.ciphertext);
    EXPECT_EQ(rotated.open_secret(after, "credential/12"), secret);
    EXPECT_EQ(rotated.open_secret(untouched, "credential/13"), secret);

    const keyring old_dropped({new_key});
    EXPECT_EQ(old_dropped.open_secret(after, "credential/12"), secret);
    EXPECT_EQ(crypto_failure([&] { (void)old_dropped.open_secret(untouched, "credential/13"); }),
              "the master key " + old_key.id + " that sealed this secret is not loaded");
}

TEST(KeyringSecret, RewrapChecksTheIdentity) {
    const keyring ring({generate_master_key()});
    const sealed_secret s = ring.seal_secret("sk-live-0123456789", "credential/12");
    EXPECT_EQ(crypto_failure([&] { (void)ring.rewrap(s, "credential/13"); }), "decryption failed");
}

TEST(KeyringSecret, SharedAcrossThreads) {
    const keyring ring({generate_master_key(), generate_master_key()});
    std::vector<std::thread> threads;
    std::array<int, 4> round_trips{};
    for (std::size_t t = 0; t < round_trips.size(); ++t) {
        threads.emplace_back([&ring, &round_trips, t] {
            for (int i = 0; i < 200; ++i) {
                const std::string identity =
                    "credential/" + std::to_string(t) + "-" + std::to_string(i);
                const std::string secret = "secret " + identity;
                const sealed_secret s = ring.rewrap(ring.seal_secret(secret, identity), identity);
                round_trips[t] += ring.open_secret(s, identity) == secret ? 1 : 0;
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (const int n : round_trips) {
        EXPECT_EQ(n, 200);
    }
}

TEST(KeyringConstruction, RefusesEmptyRepeatedAndMismatchedKeys) {
    EXPECT_THROW(keyring({}), config_error);
    const master_key k = generate_master_key();
    EXPECT_EQ(config_failure([&] {
                  keyring({k, generate_master_key(), k});
              }),
              "the master key " + k.id + " is listed twice");
    master_key wrong_id = generate_master_key();
    wrong_id.id = k.id;
    EXPECT_THROW(keyring({wrong_id}), config_error);
    const keyring ring({k});
    EXPECT_EQ(ring.find(k.id), &ring.keys().front());
    EXPECT_EQ(ring.find("0000000000000000"), nullptr);
}

TEST(KeyringEnv, OneKey) {
    const master_key k = generate_master_key();
    const keyring ring = keyring::parse_env(base64_encode(k.key));
    ASSERT_EQ(ring.keys().size(), 1u);
    EXPECT_EQ(ring.primary().id, k.id);
    EXPECT_EQ(ring.primary().key, k.key);
}

TEST(KeyringEnv, TwoKeysFirstIsPrimary) {
    const master_key a = generate_master_key();
    const master_key b = generate_master_key();
    const keyring ring = keyring::parse_env(base64_encode(a.key) + ", " + base64_encode(b.key));
    ASSERT_EQ(ring.keys().size(), 2u);
    EXPECT_EQ(ring.primary().id, a.id);
    ASSERT_NE(ring.find(b.id), nullptr);
    EXPECT_EQ(ring.find(b.id)->key, b.key);
}

TEST(KeyringEnv, BadValuesAreNamedByPositionNotContent) {
    const std::string good = base64_encode(generate_master_key().key);
    const std::string short_key = base64_encode(random_bytes(31));
    const std::string long_key = base64_encode(random_bytes(33));
    const std::vector<std::pair<std::string, int>> cases = {
        {"", 1},
        {"CANARYnotbase64!", 1},
        {short_key, 1},
        {long_key, 1},
        {good + ",", 2},
        {good + "," + short_key, 2},
        {good + ",," + good, 2},
        {good + ";" + good, 1},
    };
    for (const auto& [value, position] : cases) {
        const std::string message = config_failure([&] { (void)keyring::parse_env(value); });
        EXPECT_EQ(message, "AIGNEHUB_MASTER_KEY: key " + std::to_string(position) +
                               " is not base64 of 32 bytes")
            << value;
    }
    EXPECT_THROW((void)keyring::parse_env(good + "," + good), config_error);
}

class KeyringFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("aignehub-crypto-" + hex_encode(random_bytes(8)));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    [[nodiscard]] std::filesystem::path file() const { return dir_ / "master.keys"; }

    void write_text(const std::string& text, std::filesystem::perms mode) const {
        std::ofstream(file()) << text;
        std::filesystem::permissions(file(), mode);
    }

    std::filesystem::path dir_;
};

constexpr auto owner_only =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;

TEST_F(KeyringFile, WriteThenReadRoundTrips) {
    const master_key a = generate_master_key();
    const master_key b = generate_master_key();
    keyring::write_file(file(), {a, b});

    struct stat st {};
    ASSERT_EQ(::stat(file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777u, 0600u);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1)
        << "a temporary file was left behind";
    std::string first_line;
    std::getline(std::ifstream(file()), first_line);
    EXPECT_TRUE(first_line.starts_with("# ")) << first_line;

    const keyring ring = keyring::read_file(file());
    ASSERT_EQ(ring.keys().size(), 2u);
    EXPECT_EQ(ring.keys()[0].id, a.id);
    EXPECT_EQ(ring.keys()[0].key, a.key);
    EXPECT_EQ(ring.keys()[1].id, b.id);
    EXPECT_EQ(ring.keys()[1].key, b.key);

    // Rotation rewrites the file in place.
    const master_key c = generate_master_key();
    keyring::write_file(file(), {c, a, b});
    EXPECT_EQ(keyring::read_file(file()).primary().id, c.id);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(KeyringFile, GroupOrWorldAccessibleFileIsRefused) {
    keyring::write_file(file(), {generate_master_key()});
    std::filesystem::permissions(file(), owner_only | std::filesystem::perms::group_read |
                                             std::filesystem::perms::others_read);
    const std::string message = config_failure([&] { (void)keyring::read_file(file()); });
    EXPECT_TRUE(contains(message, "chmod 600 " + file().string())) << message;
}

TEST_F(KeyringFile, CommentsAndBlankLinesAreIgnored) {
    const master_key a = generate_master_key();
    const master_key b = generate_master_key();
    write_text("# keys\n\n   \n" + base64_encode(a.key) + "\r\n  # older\n\t" +
                   base64_encode(b.key) + "  \n\n",
               owner_only);
    const keyring ring = keyring::read_file(file());
    ASSERT_EQ(ring.keys().size(), 2u);
    EXPECT_EQ(ring.primary().id, a.id);
    EXPECT_EQ(ring.keys()[1].id, b.id);
}

TEST_F(KeyringFile, MalformedLineIsNamedByNumberNotContent) {
    const std::string good = base64_encode(generate_master_key().key);
    write_text("# keys\n" + good + "\n\nCANARYnotakey\n" + good + "\n", owner_only);
    const std::string message = config_failure([&] { (void)keyring::read_file(file()); });
    EXPECT_TRUE(contains(message, "line 4 is not base64 of 32 bytes")) << message;
    EXPECT_FALSE(contains(message, "CANARY"));
    EXPECT_FALSE(contains(message, good));
}

TEST_F(KeyringFile, EmptyMissingAndUnwritableAreRefused) {
    write_text("# no keys yet\n\n", owner_only);
    EXPECT_TRUE(
        contains(config_failure([&] { (void)keyring::read_file(file()); }), "holds no key"));
    EXPECT_THROW((void)keyring::read_file(dir_ / "absent.keys"), config_error);
    EXPECT_THROW(keyring::write_file(file(), {}), config_error);
    EXPECT_THROW(keyring::write_file(dir_ / "absent" / "master.keys", {generate_master_key()}),
                 store_error);
}

TEST(KeyringCanary, NoSecretBytesInAnyMessage) {
    const std::string canary = "sk-CANARY-5f0c3e9a";
    const master_key k = generate_master_key();
    const keyring ring({k});
    const sealed_secret s = ring.seal_secret(canary, "credential/1");
    sealed_secret tampered = s;
    tampered.ciphertext[12] ^= 1;
    sealed_secret unknown = s;
    unknown.key_id = generate_master_key().id;
    const std::string key_b64 = base64_encode(k.key);

    std::vector<std::string> messages = {
        crypto_failure([&] { (void)ring.open_secret(s, "credential/2"); }),
        crypto_failure([&] { (void)ring.open_secret(tampered, "credential/1"); }),
        crypto_failure([&] { (void)ring.open_secret(unknown, "credential/1"); }),
        crypto_failure([&] { (void)ring.rewrap(s, "credential/2"); }),
        crypto_failure([&] { (void)open(random_bytes(32), s.ciphertext, "credential/1"); }),
        config_failure([&] { (void)keyring::parse_env(key_b64 + "," + canary); }),
        config_failure([&] { (void)keyring::parse_env(key_b64.substr(4)); }),
    };
    for (const auto& m : messages) {
        EXPECT_FALSE(contains(m, canary)) << m;
        EXPECT_FALSE(contains(m, key_b64)) << m;
        EXPECT_FALSE(contains(m, key_b64.substr(4))) << m;
        EXPECT_FALSE(contains(m, hex_encode(k.key))) << m;
    }
}

} // namespace
} // namespace aignehub::crypto
