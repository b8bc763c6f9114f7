// The load client of bench/gateway.py for what wrk cannot measure well here. Three modes, each
// sending the same POST (body and headers from the command line) to one HTTP/1.1 server:
//
//   latency  one keep-alive connection, requests one after another (concurrency 1); prints the
//            p50/p99/mean latency and the rate, so the caller can check Little's law
//            (rate x mean latency = 1 at concurrency 1).
//   stream   the same, for streaming answers: time to the first content chunk and the mean gap
//            between content chunks, as the SSE events come off the socket. It reads OpenAI's
//            chunks (content deltas, `data: [DONE]`) and Anthropic's events (text_delta
//            content_block_delta, message_stop), so that it can time an Anthropic upstream
//            directly too.
//   streams  --connections connections at once, one stream each; prints "open N T" when every
//            stream has its response headers (N = how many are still in flight then, T = the
//            seconds that took), so the caller can sample the server's memory while they all
//            are. On SIGTERM (or after --max-seconds) it prints the totals and exits, which
//            closes the streams still open.
//
// Each mode ends by printing one JSON object on stdout. Times come from steady_clock, taken
// right after the read that brought the bytes returns. Beast parses the HTTP framing (length,
// chunked or close-delimited bodies).
#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using error_code = boost::system::error_code;

constexpr std::size_t read_size = 65536;

struct options {
    std::string mode;
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string path = "/v1/chat/completions";
    std::vector<std::string> headers;
    std::string body;
    long requests = 1000;
    long warmup = 0;
    double max_seconds = 10;
    long connections = 1000;
};

double micros(clock_type::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

std::string make_request(const options& o) {
    std::string out = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" +
                      std::to_string(o.port) +
                      "\r\nContent-Type: application/json\r\nAccept: */*\r\nContent-Length: " +
                      std::to_string(o.body.size()) + "\r\n";
    for (const auto& h : o.headers) {
        out.append(h).append("\r\n");
    }
    out.append("\r\n").append(o.body);
    return out;
}

/// Splits a text/event-stream body into events and notes when content chunks arrived.
class sse_scanner {
public:
    void feed(std::string_view text, clock_type::time_point at) {
        for (const char c : text) {
            if (c != '\n') {
                line_.push_back(c);
                continue;
            }
            if (!line_.empty() && line_.back() == '\r') {
                line_.pop_back();
            }
            if (line_.empty()) {
                end_event(at);
            } else if (line_.rfind("data:", 0) == 0) {
                std::string_view value(line_);
                value.remove_prefix(5);
                if (!value.empty() && value.front() == ' ') {
                    value.remove_prefix(1);
                }
                data_.append(value);
            }
            line_.clear();
        }
    }

    std::vector<clock_type::time_point> content; ///< arrival of each non-empty content delta
    long events = 0;
    bool done = false; ///< saw `data: [DONE]` (OpenAI) or message_stop (Anthropic)

private:
    static bool non_empty_string(const nlohmann::json& object, const char* key) {
        const auto it = object.find(key);
        return it != object.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
    }

    void end_event(clock_type::time_point at) {
        if (data_.empty()) {
            return;
        }
        ++events;
        if (data_ == "[DONE]") {
            done = true;
        } else if (const auto json = nlohmann::json::parse(data_, nullptr, false);
                   json.is_object()) {
            note(json, at);
        }
        data_.clear();
    }

    void note(const nlohmann::json& json, clock_type::time_point at) {
        if (const auto choices = json.find("choices");
            choices != json.end() && choices->is_array() && !choices->empty()) {
            const auto delta = (*choices)[0].find("delta");
            if (delta != (*choices)[0].end() && non_empty_string(*delta, "content")) {
                content.push_back(at);
            }
            return;
        }
        const auto type = json.find("type");
        if (type == json.end() || !type->is_string()) {
            return;
        }
        if (*type == "message_stop") {
            done = true;
        } else if (const auto delta = json.find("delta"); *type == "content_block_delta" &&
                                                          delta != json.end() &&
                                                          non_empty_string(*delta, "text")) {
            content.push_back(at);
        }
    }

    std::string line_;
    std::string data_;
};

/// The parse state of one response: feed it what the socket brought, with the time it came.
class response_reader {
public:
    response_reader() { parser_.body_limit(boost::none); }

    /// Parses what `buffer` holds. True once the whole response is in; `ec` on a parse error.
    bool feed(beast::flat_buffer& buffer, clock_type::time_point at, error_code& ec) {
        while (buffer.size() > 0 && !parser_.is_done()) {
            const std::size_t used = parser_.put(buffer.data(), ec);
            buffer.consume(used);
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec || used == 0) {
                break;
            }
        }
        scan(at);
        return parser_.is_done();
    }

    /// The server closed the connection: ends a close-delimited body, else it is an error.
    bool eof(clock_type::time_point at, error_code& ec) {
        parser_.put_eof(ec);
        scan(at);
        return !ec && parser_.is_done();
    }

    bool header_done() const { return parser_.is_header_done(); }
    bool ok() const { return parser_.is_header_done() && parser_.get().result_int() / 100 == 2; }
    bool keep_alive() const { return parser_.keep_alive(); }
    const sse_scanner& sse() const { return sse_; }

private:
    void scan(clock_type::time_point at) {
        if (!parser_.is_header_done()) {
            return;
        }
        const std::string& body = parser_.get().body();
        if (body.size() > seen_) {
            sse_.feed(std::string_view(body).substr(seen_), at);
            seen_ = body.size();
        }
    }

    http::response_parser<http::string_body> parser_;
    std::size_t seen_ = 0;
    sse_scanner sse_;
};

/// Blocking keep-alive connection for the concurrency-1 modes.
class connection {
public:
    connection(asio::io_context& io, tcp::endpoint endpoint) : socket_(io), endpoint_(endpoint) {}

    void open() {
        error_code ignored;
        socket_.close(ignored);
        socket_.connect(endpoint_);
        socket_.set_option(tcp::no_delay(true));
        buffer_.clear();
    }

    /// Sends `request` and reads the response into `reader`; `at` is when the last byte came.
    bool exchange(const std::string& request, response_reader& reader, clock_type::time_point& at) {
        error_code ec;
        asio::write(socket_, asio::buffer(request), ec);
        if (ec) {
            return false;
        }
        at = clock_type::now();
        if (reader.feed(buffer_, at, ec)) {
            return true;
        }
        while (!ec) {
            const std::size_t n = socket_.read_some(buffer_.prepare(read_size), ec);
            at = clock_type::now();
            if (ec == asio::error::eof) {
                return reader.eof(at, ec);
            }
            if (ec) {
                return false;
            }
            buffer_.commit(n);
            if (reader.feed(buffer_, at, ec)) {
                return true;
            }
        }
        return false;
    }

private:
    tcp::socket socket_;
    tcp::endpoint endpoint_;
    beast::flat_buffer buffer_;
};

double percentile(std::vector<double> sorted, double p) {
    if (sorted.empty()) {
        return 0;
    }
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(rank, sorted.size() - 1)];
}

double mean(const std::vector<double>& values) {
    double sum = 0;
    for (const double v : values) {
        sum += v;
    }
    return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

/// Runs the sequential modes; `measure` turns one response into samples, false on a bad answer.
template <class Measure>
nlohmann::json sequential(const options& o, tcp::endpoint endpoint, Measure measure) {
    asio::io_context io;
    connection conn(io, endpoint);
    conn.open();
    const std::string request = make_request(o);
    long errors = 0;
    long reconnects = 0;
    long done = 0;
    const auto budget = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(o.max_seconds));
    clock_type::time_point start{};
    clock_type::time_point end{};
    for (long i = 0; i < o.warmup + o.requests; ++i) {
        if (i == o.warmup) {
            start = clock_type::now();
        }
        const auto sent = clock_type::now();
        clock_type::time_point at{};
        response_reader reader;
        const bool got = conn.exchange(request, reader, at);
        const bool timed = i >= o.warmup;
        if (!got || !reader.ok() || !measure(reader, sent, at, timed)) {
            errors += timed ? 1 : 0;
        }
        if (timed) {
            ++done;
            end = at;
        }
        if (!got || !reader.keep_alive()) {
            ++reconnects;
            conn.open();
        }
        if (timed && clock_type::now() - start > budget) {
            break;
        }
    }
    nlohmann::json out;
    out["requests"] = done;
    out["errors"] = errors;
    out["reconnects"] = reconnects;
    out["elapsed_s"] = std::chrono::duration<double>(end - start).count();
    return out;
}

nlohmann::json run_latency(const options& o, tcp::endpoint endpoint) {
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(o.requests));
    auto out = sequential(o, endpoint,
                          [&](const response_reader&, clock_type::time_point sent,
                              clock_type::time_point at, bool timed) {
                              if (timed) {
                                  samples.push_back(micros(at - sent));
                              }
                              return true;
                          });
    const double mean_us = mean(samples);
    std::sort(samples.begin(), samples.end());
    const double elapsed = out["elapsed_s"].get<double>();
    const double rate = elapsed > 0 ? static_cast<double>(samples.size()) / elapsed : 0;
    out["p50_us"] = percentile(samples, 0.50);
    out["p99_us"] = percentile(samples, 0.99);
    out["mean_us"] = mean_us;
    out["requests_per_s"] = rate;
    out["littles_law"] = rate * mean_us / 1e6; // concurrency 1: should be just under 1
    return out;
}

nlohmann::json run_stream(const options& o, tcp::endpoint endpoint) {
    std::vector<double> ttft;
    double gap_sum = 0;
    long gaps = 0;
    long chunks = 0;
    double delay_sum = 0;
    long events = 0;
    long streams = 0;
    auto out = sequential(o, endpoint,
                          [&](const response_reader& r, clock_type::time_point sent,
                              clock_type::time_point, bool timed) {
                              const auto& sse = r.sse();
                              if (sse.content.empty() || !sse.done) {
                                  return false;
                              }
                              if (timed) {
                                  ++streams;
                                  ttft.push_back(micros(sse.content.front() - sent));
                                  gap_sum += micros(sse.content.back() - sse.content.front());
                                  gaps += static_cast<long>(sse.content.size()) - 1;
                                  chunks += static_cast<long>(sse.content.size());
                                  for (const auto at : sse.content) {
                                      delay_sum += micros(at - sent);
                                  }
                                  events += sse.events;
                              }
                              return true;
                          });
    std::sort(ttft.begin(), ttft.end());
    out["ttft_p50_us"] = percentile(ttft, 0.50);
    out["ttft_mean_us"] = mean(ttft);
    out["ttft_min_us"] = ttft.empty() ? 0 : ttft.front();
    out["ttft_max_us"] = ttft.empty() ? 0 : ttft.back();
    out["gap_mean_us"] = gaps > 0 ? gap_sum / static_cast<double>(gaps) : 0;
    // Each content chunk's arrival after the request was sent, averaged over all chunks.
    out["chunk_delay_mean_us"] = chunks > 0 ? delay_sum / static_cast<double>(chunks) : 0;
    out["content_chunks_per_stream"] =
        streams > 0 ? static_cast<double>(chunks) / static_cast<double>(streams) : 0;
    out["events_per_stream"] =
        streams > 0 ? static_cast<double>(events) / static_cast<double>(streams) : 0;
    return out;
}

struct concurrent_state {
    long total = 0;
    long opened = 0; ///< got response headers
    long failed_before_open = 0;
    long in_flight = 0;
    long peak_in_flight = 0;
    long completed = 0;
    long errors = 0;
    bool announced = false;

    clock_type::time_point start = clock_type::now();
    double open_after_s = -1; ///< when every stream had its headers (or had failed)

    void maybe_announce() {
        if (!announced && opened + failed_before_open == total) {
            announce();
        }
    }

    void announce() {
        announced = true;
        open_after_s = std::chrono::duration<double>(clock_type::now() - start).count();
        std::printf("open %ld %.3f\n", in_flight, open_after_s);
        std::fflush(stdout);
    }
};

asio::awaitable<void> one_stream(tcp::endpoint endpoint, const std::string& request,
                                 concurrent_state& state) {
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket(executor);
    bool opened = false;
    const auto fail = [&] {
        ++state.errors;
        if (opened) {
            --state.in_flight;
        } else {
            ++state.failed_before_open;
            state.maybe_announce();
        }
    };
    auto [ec] = co_await socket.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
    if (ec) {
        fail();
        co_return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(request),
                                                     asio::as_tuple(asio::use_awaitable));
    if (wec) {
        fail();
        co_return;
    }
    response_reader reader;
    beast::flat_buffer buffer;
    for (;;) {
        auto [rec, n] = co_await socket.async_read_some(buffer.prepare(read_size),
                                                        asio::as_tuple(asio::use_awaitable));
        const auto at = clock_type::now();
        error_code pec;
        bool complete = false;
        if (rec == asio::error::eof) {
            complete = reader.eof(at, pec);
            if (!complete) {
                fail();
                co_return;
            }
        } else if (rec) {
            fail();
            co_return;
        } else {
            buffer.commit(n);
            complete = reader.feed(buffer, at, pec);
            if (pec) {
                fail();
                co_return;
            }
        }
        if (!opened && reader.header_done()) {
            opened = true;
            ++state.opened;
            ++state.in_flight;
            state.peak_in_flight = std::max(state.peak_in_flight, state.in_flight);
            state.maybe_announce();
        }
        if (complete) {
            if (reader.ok() && reader.sse().done) {
                ++state.completed;
                --state.in_flight;
            } else {
                fail();
            }
            co_return;
        }
    }
}

nlohmann::json run_streams(const options& o, tcp::endpoint endpoint) {
    asio::io_context io(1);
    concurrent_state state;
    state.total = o.connections;
    const std::string request = make_request(o);
    // The caller sends SIGTERM once it has what it needs: the totals are printed, and exiting
    // closes every connection still open.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    bool signalled = false;
    signals.async_wait([&](auto, auto) {
        signalled = true;
        io.stop();
    });
    for (long i = 0; i < o.connections; ++i) {
        asio::co_spawn(io, one_stream(endpoint, request, state), asio::detached);
    }
    io.run_for(std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(o.max_seconds)));
    if (!state.announced) {
        // Out of time: say how many are open, and keep them open while the caller samples.
        state.announce();
        if (!signalled) {
            io.restart();
            io.run_for(std::chrono::seconds(30));
        }
    }
    nlohmann::json out;
    out["streams"] = o.connections;
    out["opened"] = state.opened;
    out["completed"] = state.completed;
    out["errors"] = state.errors;
    out["unfinished"] = o.connections - state.completed - state.errors;
    out["peak_in_flight"] = state.peak_in_flight;
    out["in_flight_at_end"] = state.in_flight;
    out["open_after_s"] = state.open_after_s;
    out["elapsed_s"] = std::chrono::duration<double>(clock_type::now() - state.start).count();
    return out;
}

options parse(int argc, char** argv) {
    options o;
    if (argc < 2) {
        throw std::invalid_argument("usage: aignehub_bench_load_client latency|stream|streams "
                                    "--port P --body JSON [--header 'K: V']... [--host H] "
                                    "[--path P] [--requests N] [--warmup N] [--max-seconds S] "
                                    "[--connections N]");
    }
    o.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) {
            throw std::invalid_argument("missing value after " + std::string(arg));
        }
        const std::string value = argv[++i];
        if (arg == "--host") {
            o.host = value;
        } else if (arg == "--port") {
            o.port = static_cast<unsigned short>(std::stoul(value));
        } else if (arg == "--path") {
            o.path = value;
        } else if (arg == "--header") {
            o.headers.push_back(value);
        } else if (arg == "--body") {
            o.body = value;
        } else if (arg == "--requests") {
            o.requests = std::stol(value);
        } else if (arg == "--warmup") {
            o.warmup = std::stol(value);
        } else if (arg == "--max-seconds") {
            o.max_seconds = std::stod(value);
        } else if (arg == "--connections") {
            o.connections = std::stol(value);
        } else {
            throw std::invalid_argument("unknown option " + std::string(arg));
        }
    }
    return o;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const options o = parse(argc, argv);
        const tcp::endpoint endpoint(asio::ip::make_address(o.host), o.port);
        nlohmann::json out;
        if (o.mode == "latency") {
            out = run_latency(o, endpoint);
        } else if (o.mode == "stream") {
            out = run_stream(o, endpoint);
        } else if (o.mode == "streams") {
            out = run_streams(o, endpoint);
        } else {
            throw std::invalid_argument("unknown mode " + o.mode);
        }
        out["mode"] = o.mode;
        std::printf("%s\n", out.dump().c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aignehub_bench_load_client: %s\n", e.what());
        return 1;
    }
}
