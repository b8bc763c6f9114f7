// A timed upstream for bench/gateway.py that speaks OpenAI's and Anthropic's wire formats.
//
// POST .../chat/completions with "stream":true gets a text/event-stream answer (HTTP/1.1,
// chunked, keep-alive): a role chunk at once, then N content chunks `interval` apart, a finish
// chunk, a usage chunk (choices:[]) and `data: [DONE]`. Without "stream":true it gets a chat
// completion.
//
// POST .../v1/messages is Anthropic's Messages API, with the same text in the same number of
// chunks at the same pace, so that a gateway translating one format into the other can be set
// beside one that passes OpenAI's through: with "stream":true, message_start, content_block_start
// and ping at once, then N content_block_delta (text_delta) events `interval` apart, then
// content_block_stop, message_delta (stop_reason, usage) and message_stop; without, a message.
// The events carry the bytes of a recorded stream (shared/fixtures/dev/anthropic/
// messages_stream.json), down to the spaces Anthropic pads some data lines with. Like the real
// API it wants x-api-key or a bearer token (401 without), anthropic-version and max_tokens (400
// without), which shows whether a gateway translated the request.
//
// Each event is written, and so sent (TCP_NODELAY), as soon as it is due. GET .../models gets a
// model list (Anthropic's shape when the request has anthropic-version), anything else a 404.
// One thread, one coroutine per connection: it holds thousands of concurrent streams on one core
// without being the bottleneck.
//
// Usage: aignehub_bench_sse_mock [--chunks N] HOST:PORT:INTERVAL_MS...
// Each listener has its own interval; 0 writes the whole stream in one go (for throughput runs).
#include <boost/asio.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::size_t max_request = 1 << 20;

constexpr std::string_view chunk_head =
    R"({"id":"chatcmpl-bench0sse0mock0000000000001","object":"chat.completion.chunk",)"
    R"("created":1755690953,"model":"gpt-4o-mini-2024-07-18","service_tier":"default",)"
    R"("system_fingerprint":null,"choices":)";

constexpr std::string_view completion =
    R"({"id":"chatcmpl-bench0sse0mock0000000000001","object":"chat.completion",)"
    R"("created":1755690953,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"Hello! How can I help you today?",)"
    R"("refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":13,"completion_tokens":9,"total_tokens":22,)"
    R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
    R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},)"
    R"("service_tier":"default","system_fingerprint":null})";

constexpr std::string_view models =
    R"({"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,)"
    R"("owned_by":"system"}]})";

constexpr std::string_view not_found =
    R"({"error":{"message":"Unknown request URL.","type":"invalid_request_error",)"
    R"("param":null,"code":"unknown_url"}})";

// Anthropic's Messages API: the shapes (field order, usage fields, padding) of recorded answers.
constexpr std::string_view message =
    R"({"model":"claude-sonnet-4-5-20250929","id":"msg_01Bench0sse0mock00000001",)"
    R"("type":"message","role":"assistant","content":[{"type":"text",)"
    R"("text":"Hello! How can I help you today?"}],"stop_reason":"end_turn",)"
    R"("stop_sequence":null,"stop_details":null,"usage":{"input_tokens":13,)"
    R"("cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":)"
    R"({"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":9,)"
    R"("service_tier":"standard","inference_geo":"not_available"}})";

constexpr std::string_view message_start =
    R"({"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929",)"
    R"("id":"msg_01Bench0sse0mock00000001","type":"message","role":"assistant","content":[],)"
    R"("stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":13,)"
    R"("cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":)"
    R"({"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,)"
    R"("service_tier":"standard","inference_geo":"not_available"}}               })";

constexpr std::string_view content_block_start =
    R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}   })";

constexpr std::string_view ping = R"({"type": "ping"})";

constexpr std::string_view content_block_stop =
    R"({"type":"content_block_stop","index":0             })";

constexpr std::string_view message_stop = R"({"type":"message_stop" })";

constexpr std::string_view anthropic_models =
    R"({"data":[{"type":"model","id":"claude-sonnet-4-5-20250929",)"
    R"("display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],)"
    R"("has_more":false,"first_id":"claude-sonnet-4-5-20250929",)"
    R"("last_id":"claude-sonnet-4-5-20250929"})";

constexpr std::string_view anthropic_not_found =
    R"({"type":"error","error":{"type":"not_found_error","message":"Not Found"},)"
    R"("request_id":"req_01Bench0sse0mock00000001"})";

constexpr std::string_view missing_key =
    R"({"type":"error","error":{"type":"authentication_error",)"
    R"("message":"x-api-key header is required"},"request_id":"req_01Bench0sse0mock00000001"})";

constexpr std::string_view missing_version =
    R"({"type":"error","error":{"type":"invalid_request_error",)"
    R"("message":"anthropic-version: header is required"},)"
    R"("request_id":"req_01Bench0sse0mock00000001"})";

constexpr std::string_view missing_max_tokens =
    R"({"type":"error","error":{"type":"invalid_request_error",)"
    R"("message":"max_tokens: Field required"},"request_id":"req_01Bench0sse0mock00000001"})";

struct listener_config {
    std::string host;
    unsigned short port = 0;
    std::chrono::milliseconds interval{0};
};

/// One SSE event inside one HTTP chunk: `<hex size>\r\n[event: <name>\n]data: <json>\n\n\r\n`.
void append_event(std::string& out, std::string_view data, std::string_view name = {}) {
    std::size_t size = data.size() + 8; // "data: " + "\n\n"
    if (!name.empty()) {
        size += name.size() + 8; // "event: " + "\n"
    }
    char hex[16];
    const auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
    out.append(hex, end).append("\r\n");
    if (!name.empty()) {
        out.append("event: ").append(name).append("\n");
    }
    out.append("data: ").append(data).append("\n\n\r\n");
}

std::string chunk_event(std::string_view choices, std::string_view usage) {
    std::string json;
    json.append(chunk_head).append(choices).append(R"(,"usage":)").append(usage).append("}");
    return json;
}

std::string role_event() {
    return chunk_event(R"([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},)"
                       R"("finish_reason":null}])",
                       "null");
}

/// The text of content chunk `i`, the same in both formats.
std::string chunk_text(int i) {
    return "tok" + std::to_string(i) + " ";
}

std::string content_event(int i) {
    std::string choices = R"([{"index":0,"delta":{"content":")";
    choices.append(chunk_text(i)).append(R"("},"finish_reason":null}])");
    return chunk_event(choices, "null");
}

std::string tail_events(int chunks) {
    std::string out;
    append_event(out, chunk_event(R"([{"index":0,"delta":{},"finish_reason":"stop"}])", "null"));
    std::string usage = R"({"prompt_tokens":13,"completion_tokens":)";
    usage.append(std::to_string(chunks))
        .append(R"(,"total_tokens":)")
        .append(std::to_string(13 + chunks))
        .append(R"(,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)")
        .append(R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)")
        .append(R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})");
    append_event(out, chunk_event("[]", usage));
    append_event(out, "[DONE]");
    out.append("0\r\n\r\n");
    return out;
}

/// Anthropic pads some data lines with spaces before the closing brace (the recorded stream has
/// 0 to 15); a fixed pattern keeps the bytes the same from run to run.
void append_delta(std::string& out, int i) {
    std::string json = R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
                       R"("text":")";
    json.append(chunk_text(i)).append("\"}");
    json.append(static_cast<std::size_t>(i * 7 % 11), ' ').append("}");
    append_event(out, json, "content_block_delta");
}

void append_anthropic_head(std::string& out) {
    append_event(out, message_start, "message_start");
    append_event(out, content_block_start, "content_block_start");
    append_event(out, ping, "ping");
}

std::string anthropic_tail(int chunks) {
    std::string out;
    append_event(out, content_block_stop, "content_block_stop");
    std::string delta = R"({"type":"message_delta","delta":{"stop_reason":"end_turn",)"
                        R"("stop_sequence":null},"usage":{"input_tokens":13,)"
                        R"("cache_creation_input_tokens":0,"cache_read_input_tokens":0,)"
                        R"("output_tokens":)";
    delta.append(std::to_string(chunks)).append("}        }");
    append_event(out, delta, "message_delta");
    append_event(out, message_stop, "message_stop");
    out.append("0\r\n\r\n");
    return out;
}

constexpr std::string_view stream_headers = "HTTP/1.1 200 OK\r\n"
                                            "Content-Type: text/event-stream; charset=utf-8\r\n"
                                            "Cache-Control: no-cache\r\n"
                                            "Transfer-Encoding: chunked\r\n\r\n";

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// True when the JSON body has `"stream"` set to true, whatever the spacing around the colon.
bool wants_stream(std::string_view body) {
    for (std::size_t at = body.find("\"stream\""); at != std::string_view::npos;
         at = body.find("\"stream\"", at + 1)) {
        std::size_t i = at + 8;
        while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n')) {
            ++i;
        }
        if (i >= body.size() || body[i] != ':') {
            continue;
        }
        ++i;
        while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n')) {
            ++i;
        }
        if (body.substr(i, 4) == "true") {
            return true;
        }
    }
    return false;
}

enum class route { chat, messages, models, unknown };

struct request_head {
    route what = route::unknown;
    std::size_t content_length = 0;
    bool chunked = false;
    bool close = false;
    bool api_key = false;           ///< has x-api-key or authorization
    bool anthropic_version = false; ///< has anthropic-version
};

request_head parse_head(std::string_view head) {
    request_head out;
    const std::string text = lower(head);
    const std::string_view view(text);
    const std::string_view line = view.substr(0, view.find("\r\n"));
    const auto path_end = line.rfind(' ');
    const std::string_view target = line.substr(0, path_end);
    const std::string_view path = target.substr(0, target.find('?'));
    if (line.rfind("post ", 0) == 0 && path.ends_with("/chat/completions")) {
        out.what = route::chat;
    } else if (line.rfind("post ", 0) == 0 && path.ends_with("/v1/messages")) {
        out.what = route::messages;
    } else if (line.rfind("get ", 0) == 0 && path.ends_with("/models")) {
        out.what = route::models;
    }
    if (const auto at = view.find("\r\ncontent-length:"); at != std::string_view::npos) {
        std::size_t i = at + 17;
        while (i < view.size() && view[i] == ' ') {
            ++i;
        }
        std::from_chars(view.data() + i, view.data() + view.size(), out.content_length);
    }
    out.chunked = view.find("\r\ntransfer-encoding: chunked") != std::string_view::npos;
    out.close = view.find("\r\nconnection: close") != std::string_view::npos;
    // Recent SDKs send their key as a bearer token; the API takes either.
    out.api_key = view.find("\r\nx-api-key:") != std::string_view::npos ||
                  view.find("\r\nauthorization:") != std::string_view::npos;
    out.anthropic_version = view.find("\r\nanthropic-version:") != std::string_view::npos;
    return out;
}

asio::awaitable<void> write(tcp::socket& socket, std::string_view data, bool& ok) {
    auto [ec, n] =
        co_await asio::async_write(socket, asio::buffer(data), asio::as_tuple(asio::use_awaitable));
    ok = !ec;
}

enum class wire { openai, anthropic };

/// What comes before the first content chunk: OpenAI's role chunk, or Anthropic's
/// message_start, content_block_start and ping.
void append_stream_head(std::string& out, wire format) {
    if (format == wire::openai) {
        append_event(out, role_event());
    } else {
        append_anthropic_head(out);
    }
}

void append_chunk(std::string& out, wire format, int i) {
    if (format == wire::openai) {
        append_event(out, content_event(i));
    } else {
        append_delta(out, i);
    }
}

std::string stream_tail(wire format, int chunks) {
    return format == wire::openai ? tail_events(chunks) : anthropic_tail(chunks);
}

asio::awaitable<bool> send_stream(tcp::socket& socket, wire format,
                                  std::chrono::milliseconds interval, int chunks) {
    bool ok = true;
    std::string out(stream_headers);
    append_stream_head(out, format);
    if (interval == 0ms) {
        for (int i = 1; i <= chunks; ++i) {
            append_chunk(out, format, i);
        }
        out += stream_tail(format, chunks);
        co_await write(socket, out, ok);
        co_return ok;
    }
    co_await write(socket, out, ok);
    // Deadlines count from the start, so timer lateness never accumulates over the stream.
    const auto start = std::chrono::steady_clock::now();
    asio::steady_timer timer(socket.get_executor());
    for (int i = 1; i <= chunks && ok; ++i) {
        timer.expires_at(start + i * interval);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        out.clear();
        append_chunk(out, format, i);
        co_await write(socket, out, ok);
    }
    if (ok) {
        co_await write(socket, stream_tail(format, chunks), ok);
    }
    co_return ok;
}

struct answer {
    std::string_view status; ///< the status line without its CRLF
    std::string_view body;   ///< JSON
};

/// The non-streaming answer to a request, or what refuses a Messages API request the real API
/// would refuse (checked before streaming too, as Anthropic answers these with JSON).
answer answer_for(const request_head& head, std::string_view body) {
    switch (head.what) {
    case route::chat:
        return {"HTTP/1.1 200 OK", completion};
    case route::messages:
        if (!head.api_key) {
            return {"HTTP/1.1 401 Unauthorized", missing_key};
        }
        if (!head.anthropic_version) {
            return {"HTTP/1.1 400 Bad Request", missing_version};
        }
        if (body.find("\"max_tokens\"") == std::string_view::npos) {
            return {"HTTP/1.1 400 Bad Request", missing_max_tokens};
        }
        return {"HTTP/1.1 200 OK", message};
    case route::models:
        return {"HTTP/1.1 200 OK", head.anthropic_version ? anthropic_models : models};
    case route::unknown:
        break;
    }
    return {"HTTP/1.1 404 Not Found", head.anthropic_version ? anthropic_not_found : not_found};
}

asio::awaitable<void> serve(tcp::socket socket, std::chrono::milliseconds interval, int chunks) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string buffer;
    char scratch[16384];
    const auto read_more = [&]() -> asio::awaitable<bool> {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(scratch),
                                                       asio::as_tuple(asio::use_awaitable));
        if (ec || buffer.size() + n > max_request) {
            co_return false;
        }
        buffer.append(scratch, n);
        co_return true;
    };
    for (;;) {
        std::size_t head_end;
        while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
            if (!co_await read_more()) {
                co_return;
            }
        }
        const request_head head = parse_head(std::string_view(buffer).substr(0, head_end + 2));
        const std::size_t body_start = head_end + 4;
        std::size_t body_end;
        if (head.chunked) {
            // Good enough for a mock: the body ends at the last-chunk marker.
            while ((body_end = buffer.find("\r\n0\r\n\r\n", body_start - 2)) == std::string::npos) {
                if (!co_await read_more()) {
                    co_return;
                }
            }
            body_end += 7;
        } else {
            body_end = body_start + head.content_length;
            while (buffer.size() < body_end) {
                if (!co_await read_more()) {
                    co_return;
                }
            }
        }
        const std::string_view request_body =
            std::string_view(buffer).substr(body_start, body_end - body_start);
        const bool stream = wants_stream(request_body);
        const answer reply = answer_for(head, request_body);
        buffer.erase(0, body_end); // request_body dangles from here
        const bool streams = head.what == route::chat || head.what == route::messages;
        bool ok = true;
        if (streams && stream && reply.status.ends_with(" 200 OK")) {
            const wire format = head.what == route::chat ? wire::openai : wire::anthropic;
            ok = co_await send_stream(socket, format, interval, chunks);
        } else {
            std::string out(reply.status);
            out.append("\r\nContent-Type: application/json\r\nContent-Length: ")
                .append(std::to_string(reply.body.size()))
                .append("\r\n\r\n")
                .append(reply.body);
            co_await write(socket, out, ok);
        }
        if (!ok || head.close) {
            socket.shutdown(tcp::socket::shutdown_send, ignored);
            co_return;
        }
    }
}

asio::awaitable<void> accept(tcp::acceptor acceptor, std::chrono::milliseconds interval,
                             int chunks) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted) {
                co_return;
            }
            continue; // e.g. EMFILE: keep serving the connections we have
        }
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), interval, chunks),
                       asio::detached);
    }
}

listener_config parse_listener(std::string_view spec) {
    const auto last = spec.rfind(':');
    const auto middle = last == std::string_view::npos ? last : spec.rfind(':', last - 1);
    if (middle == std::string_view::npos) {
        throw std::invalid_argument("expected HOST:PORT:INTERVAL_MS, got " + std::string(spec));
    }
    listener_config out;
    out.host = std::string(spec.substr(0, middle));
    const std::string port(spec.substr(middle + 1, last - middle - 1));
    out.port = static_cast<unsigned short>(std::stoul(port));
    out.interval = std::chrono::milliseconds(std::stol(std::string(spec.substr(last + 1))));
    return out;
}

} // namespace

int main(int argc, char** argv) {
    try {
        int chunks = 20;
        std::vector<listener_config> listeners;
        for (int i = 1; i < argc; ++i) {
            const std::string_view arg = argv[i];
            if (arg == "--chunks" && i + 1 < argc) {
                chunks = std::stoi(argv[++i]);
            } else {
                listeners.push_back(parse_listener(arg));
            }
        }
        if (listeners.empty()) {
            std::fputs("usage: aignehub_bench_sse_mock [--chunks N] HOST:PORT:INTERVAL_MS...\n",
                       stderr);
            return 2;
        }
        asio::io_context io(1);
        for (const auto& l : listeners) {
            tcp::acceptor acceptor(io);
            const tcp::endpoint endpoint(asio::ip::make_address(l.host), l.port);
            acceptor.open(endpoint.protocol());
            acceptor.set_option(tcp::acceptor::reuse_address(true));
            acceptor.bind(endpoint);
            acceptor.listen(4096);
            std::printf("listening %s:%u interval %lld ms\n", l.host.c_str(),
                        static_cast<unsigned>(acceptor.local_endpoint().port()),
                        static_cast<long long>(l.interval.count()));
            asio::co_spawn(io, accept(std::move(acceptor), l.interval, chunks), asio::detached);
        }
        std::fflush(stdout);
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](auto, auto) { io.stop(); });
        io.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aignehub_bench_sse_mock: %s\n", e.what());
        return 1;
    }
}
