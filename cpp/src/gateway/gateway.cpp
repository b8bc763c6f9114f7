#include "gateway/gateway.hpp"

#include "aignehub/store.hpp"
#include "aignehub/version.hpp"
#include "auth/keys.hpp"
#include "billing/usage_writer.hpp"
#include "core/log.hpp"
#include "core/master_keys.hpp"
#include "core/wipe.hpp"
#include "gateway/adapter.hpp"
#include "gateway/anthropic_wire.hpp"
#include "gateway/openai_wire.hpp"
#include "gateway/sse.hpp"
#include "http/errors.hpp"
#include "providers/secrets.hpp"
#include "routing/routes.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include <charconv>

namespace aignehub::gateway {

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using steady = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

// At most this much of a stream that has already arrived is relayed in one write.
constexpr std::size_t coalesce_limit = 64 * 1024;

std::string request_head(const routing::provider_entry& p, const std::string& path,
                         std::string_view secret, std::size_t length, bool stream,
                         std::string_view relayed) {
    std::string head;
    head.reserve(256 + secret.size());
    head.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ");
    head.append(p.origin->host_header());
    head.append("\r\nUser-Agent: aignehub/").append(version);
    head.append("\r\nContent-Type: application/json\r\nAccept: ");
    head.append(stream ? "text/event-stream" : "application/json");
    head.append("\r\nContent-Length: ").append(std::to_string(length)).append("\r\n");
    if (!secret.empty()) {
        const auto header = providers::auth_header_of(p.kind->auth);
        head.append(header.name).append(": ").append(header.prefix).append(secret).append("\r\n");
    }
    if (!p.kind->extra_header_name.empty()) {
        head.append(p.kind->extra_header_name)
            .append(": ")
            .append(p.kind->extra_header_value)
            .append("\r\n");
    }
    head.append(relayed);
    head.append("\r\n");
    return head;
}

// retry-after: delta seconds (dates are rare from AI providers and read as a minute).
steady::time_point retry_at(std::string_view value, steady::time_point now) {
    std::int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || seconds < 0) {
        seconds = value.empty() ? 10 : 60;
    }
    return now + std::chrono::seconds(std::min<std::int64_t>(seconds, 3600));
}

// Submits a usage record and completes once the writer made it durable (true) or gave up
// (false). A named initiation taking the row as an argument, not a lambda capturing it: GCC 12
// mis-copies init-captures of lambdas created inside a co_await expression.
struct submit_usage {
    billing::usage_writer* writer;

    template <class Handler> void operator()(Handler handler, usage_row row) const {
        // std::function needs a copyable callable; the handler is move-only, so it is shared and
        // moved out once, on the coroutine's executor.
        auto shared = std::make_shared<Handler>(std::move(handler));
        writer->submit(std::move(row), [shared](bool durable) {
            auto executor = asio::get_associated_executor(*shared);
            asio::post(executor, [shared, durable]() mutable {
                Handler resume = std::move(*shared);
                std::move(resume)(durable);
            });
        });
    }
};

template <class Token>
auto make_durable(billing::usage_writer& writer, usage_row row, Token token) {
    return asio::async_initiate<Token, void(bool)>(submit_usage{&writer}, token, std::move(row));
}

// How a request ended, before its record is written.
enum class failure {
    none,
    invalid_request,
    model_not_found,
    model_not_allowed,
    upstream_unauthorized,
    upstream_rate_limited,
    upstream_error,
    upstream_unreachable,
    upstream_timeout,
    upstream_stream_error,
    client_disconnected,
};

std::string_view name_of(failure f) {
    switch (f) {
    case failure::none:
        return "";
    case failure::invalid_request:
        return "invalid_request";
    case failure::model_not_found:
        return "model_not_found";
    case failure::model_not_allowed:
        return "model_not_allowed";
    case failure::upstream_unauthorized:
        return "upstream_unauthorized";
    case failure::upstream_rate_limited:
        return "upstream_rate_limited";
    case failure::upstream_error:
        return "upstream_error";
    case failure::upstream_unreachable:
        return "upstream_unreachable";
    case failure::upstream_timeout:
        return "upstream_timeout";
    case failure::upstream_stream_error:
        return "upstream_stream_error";
    case failure::client_disconnected:
        return "client_disconnected";
    }
    return "internal";
}

void set_json(http::response& res, std::string body) {
    res.result(bhttp::status::ok);
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
}

// One request through the gateway, from the client's body to the usage record.
class exchange {
public:
    exchange(services& gw, detail::log_sink* log, const client_protocol& front, endpoint which,
             const http::request& req, http::response& res, const http::route_context& ctx,
             http::responder& out)
        : gw_(gw), log_(log), front_(front), which_(which), req_(req), res_(res), ctx_(ctx),
          out_(out) {
        const auth::principal& who = *ctx.who;
        row_.request_id = std::string(res["x-request-id"]);
        row_.user_id = who.user_id;
        row_.key_id = who.key_id;
        row_.app = who.app.empty() ? front.app(req) : who.app;
        row_.created_at = auth::format_time(std::chrono::system_clock::now());
    }

    // Checks the request; false after answering it with a 4xx.
    bool prepare() {
        if (auto bad = front_.read(which_, req_.body(), request_)) {
            return refuse(http::error_kind::bad_request, failure::invalid_request, bad->message,
                          bad->param, bad->code);
        }
        row_.model_requested = request_.model;
        const auto snapshot = gw_.routes->current();
        std::string name = row_.model_requested;
        if (const auto alias = snapshot->aliases.find(name); alias != snapshot->aliases.end()) {
            name = alias->second;
        }
        // A key limited to some models may use them by name or through any alias, and an alias
        // it was given by name.
        if (!auth::model_allowed(ctx_.who->models, name) &&
            !(name != row_.model_requested &&
              auth::model_allowed(ctx_.who->models, row_.model_requested))) {
            return refuse(http::error_kind::forbidden, failure::model_not_allowed,
                          "this key may not use the model '" + row_.model_requested + "'", "model",
                          "model_not_allowed");
        }
        targets_ = resolve(*snapshot, name);
        if (targets_.empty()) {
            return refuse(http::error_kind::not_found, failure::model_not_found,
                          "the model '" + row_.model_requested +
                              "' does not exist or is not served here",
                          "model", "model_not_found");
        }
        stream_ = which_ == endpoint::chat && request_.stream;
        wants_usage_ = request_.wants_usage;
        return true;
    }

    // Tries the targets until one answers or the attempts run out.
    asio::awaitable<void> run() {
        co_await asio::this_coro::throw_if_cancelled(false);
        const unsigned budget = gw_.max_attempts;
        for (std::size_t t = 0; t < targets_.size() && attempts_ < budget; ++t) {
            const target& to = targets_[t];
            const auto& provider = *to.provider;
            if (!provider.origin) {
                note_failure(failure::upstream_unreachable, 502,
                             "the provider '" + provider.row.name + "' has an invalid base URL");
                continue;
            }
            // Leave an attempt for each provider still to come.
            const std::size_t later = targets_.size() - t - 1;
            const unsigned left = budget - attempts_;
            const unsigned own = later == 0 ? left : std::max(1U, std::min(2U, left - 1));
            upstream_request up;
            const bool translated = translates(to);
            if (auto bad = encode(to, translated, up)) {
                // This provider cannot serve the request as asked; another one may.
                note_failure(failure::invalid_request, 400, bad->message, bad->code, bad->param);
                continue;
            }
            std::vector<std::int64_t> tried;
            for (unsigned n = 0; n < own && attempts_ < budget; ++n) {
                const credential_row* credential = nullptr;
                if (!provider.credentials.empty()) {
                    credential = pick(provider, tried);
                    if (credential == nullptr) {
                        if (tried.empty()) {
                            no_usable_credential(provider); // all cooling down or refused
                        }
                        break; // or every usable one was tried: the last failure stands
                    }
                    tried.push_back(credential->id);
                } else if (provider.kind->key_required) {
                    note_failure(failure::upstream_unauthorized, 502,
                                 "the provider '" + provider.row.name + "' has no credential");
                    break;
                }
                const bool final = co_await attempt(to, credential, up, translated);
                if (final || gone_) {
                    co_return;
                }
                if (provider.credentials.size() <= tried.size() && later > 0) {
                    break; // every credential of this provider was tried: next provider
                }
            }
        }
        answer_failure();
    }

    // Writes the record, then the last bytes.
    asio::awaitable<void> finish(bool client_gone) {
        if (client_gone || gone_) {
            gone_ = true;
            failure_ = failure::client_disconnected;
            row_.status = 499;
        } else {
            row_.status = streaming_ ? 200 : res_.result_int();
        }
        row_.error_kind = std::string(name_of(failure_));
        row_.latency_us = duration_cast<microseconds>(steady::now() - out_.started()).count();
        row_.attempts = std::max<std::int64_t>(attempts_, 0);
        if (!streaming_ && !gone_) {
            row_.ttfb_us = row_.latency_us;
        }
        spend_tokens();
        // usage_sync "normal": one append to the journal on this thread; "full": wait for the
        // writer's group commit.
        const bool durable = gw_.usage->immediate()
                                 ? gw_.usage->write_now(row_)
                                 : co_await make_durable(*gw_.usage, row_, asio::use_awaitable);
        if (gone_) {
            co_return;
        }
        if (!streaming_) {
            if (!durable) {
                http::make_error(res_, http::error_kind::unavailable,
                                 "the usage record could not be written; retry later", "",
                                 "usage_not_recorded");
            }
            co_return;
        }
        if (!durable) {
            tail_.clear();
            front_.append_error_event(tail_, 503, "the usage record could not be written",
                                      "server_error", "usage_not_recorded");
        } else if (tail_.empty()) {
            tail_ = front_.stream_end();
        }
        co_await out_.finish_chunked(tail_);
    }

    void client_went_away() noexcept { gone_ = true; }

private:
    bool refuse(http::error_kind kind, failure why, std::string_view message,
                std::string_view param, std::string_view code) {
        failure_ = why;
        http::make_error(res_, kind, message, param, code);
        return false;
    }

    static const credential_row* pick(const routing::provider_entry& provider,
                                      const std::vector<std::int64_t>& tried) {
        const auto id = provider.balancer->pick(steady::now(), tried);
        if (!id) {
            return nullptr;
        }
        for (const auto& c : provider.credentials) {
            if (c.id == *id) {
                return &c;
            }
        }
        return nullptr;
    }

    void no_usable_credential(const routing::provider_entry& provider) {
        const auto next = provider.balancer->next_available();
        if (next) {
            const auto wait = duration_cast<std::chrono::seconds>(*next - steady::now()).count();
            retry_after_ = std::max<std::int64_t>(1, wait + 1);
            note_failure(failure::upstream_rate_limited, 429,
                         "every credential of the provider '" + provider.row.name +
                             "' is rate-limited; retry later");
        } else {
            note_failure(failure::upstream_unauthorized, 502,
                         "the provider '" + provider.row.name + "' refused every credential");
        }
    }

    void note_failure(failure why, unsigned status, std::string message, std::string code = {},
                      std::string param = {}) {
        failure_ = why;
        failure_status_ = status;
        failure_message_ = std::move(message);
        failure_code_ = code.empty() ? std::string(name_of(why)) : std::move(code);
        failure_param_ = std::move(param);
    }

    // A chat (or a token count) for a provider of another wire goes through the canonical
    // model; everything else is relayed.
    [[nodiscard]] bool translates(const target& to) const {
        return to.adapter->wire() != front_.wire() &&
               (which_ == endpoint::chat || which_ == endpoint::count_tokens);
    }

    std::optional<bad_field> encode(const target& to, bool translated, upstream_request& up) {
        if (!translated) {
            return to.adapter->encode(which_, request_, *to.provider, to.model, up);
        }
        if (!canonical_) {
            // Decoded once, for the first provider that needs it.
            canonical_.emplace();
            canonical_bad_ = front_.decode(which_, req_.body(), *canonical_);
            canonical_->stream = stream_;
        }
        if (canonical_bad_) {
            return canonical_bad_;
        }
        return to.adapter->encode_chat(which_, *canonical_, *to.provider, to.model, up);
    }

    void answer_failure() {
        if (failure_ == failure::none) {
            note_failure(failure::upstream_unreachable, 502, "no attempt could be made");
        }
        const bool limited = failure_status_ == 429;
        const http::error_kind kind = limited                  ? http::error_kind::rate_limited
                                      : failure_status_ == 400 ? http::error_kind::bad_request
                                                               : http::error_kind::unavailable;
        http::make_error(res_, kind, failure_message_, failure_param_, failure_code_);
        res_.result(static_cast<bhttp::status>(failure_status_));
        if (limited && retry_after_ > 0) {
            res_.set(bhttp::field::retry_after, std::to_string(retry_after_));
        }
    }

    void log_attempt(const target& to, const credential_row* credential, std::string_view outcome,
                     unsigned status, steady::time_point began) {
        if (log_ == nullptr || !log_->enabled()) {
            return;
        }
        std::string extra = R"(,"request_id":)";
        detail::append_json_string(extra, row_.request_id);
        extra.append(R"(,"attempt":)").append(std::to_string(attempts_));
        extra.append(R"(,"provider":)");
        detail::append_json_string(extra, to.provider->row.name);
        extra.append(R"(,"credential_id":)")
            .append(credential ? std::to_string(credential->id) : "null");
        extra.append(R"(,"model":)");
        detail::append_json_string(extra, to.model);
        extra.append(R"(,"outcome":)");
        detail::append_json_string(extra, outcome);
        extra.append(R"(,"status":)").append(std::to_string(status));
        extra.append(R"(,"duration_ms":)")
            .append(std::to_string(
                duration_cast<std::chrono::milliseconds>(steady::now() - began).count()));
        log_->write(detail::event_line("info", "upstream attempt", extra));
    }

    // One call to one provider with one credential; true when the request is settled (answered
    // or refused for good), false when another attempt may follow.
    asio::awaitable<bool> attempt(const target& to, const credential_row* credential,
                                  const upstream_request& up, bool translated) {
        ++attempts_;
        const auto& provider = *to.provider;
        const auto began = steady::now();
        row_.provider = provider.row.name;
        row_.credential_id =
            credential ? std::optional<std::int64_t>(credential->id) : std::nullopt;
        std::string secret = credential ? gw_.secrets->open(*credential) : std::string();
        const aignehub::detail::wipe_on_exit wipe_secret(secret);
        std::string head = request_head(provider, up.path, secret, up.body.size(), stream_,
                                        translated ? std::string() : front_.relayed_headers(req_));
        upstream::call call(*gw_.pool, *provider.origin, provider.row.local, gw_.limits);
        const upstream::call_error sent = co_await call.send(std::move(head), up.body);
        if (sent != upstream::call_error::none) {
            co_return network_failure(to, credential, sent, began);
        }
        row_.upstream_ttfb_us = call.time_to_first_byte().count();
        const unsigned status = call.status();
        if (status >= 200 && status < 300) {
            const bool streamed_reply =
                stream_ && to.adapter->is_stream(call.header("content-type"));
            if (streamed_reply) {
                co_return co_await relay(to, credential, call, began, secret, translated);
            }
            co_return co_await answer_whole(to, credential, call, began, translated);
        }
        std::string body;
        const upstream::call_error read = co_await call.read_all(body);
        if (read == upstream::call_error::cancelled) {
            gone_ = true;
            co_return true;
        }
        upstream_error error = to.adapter->decode_error(status, body);
        error.message = providers::scrub(error.message, secret);
        const unsigned status_as = error.status != 0 ? error.status : status;
        log_attempt(to, credential, "http_error", status, began);
        if (credential && (status_as == 401 || status_as == 403)) {
            provider.balancer->rejected(credential->id, steady::now());
            note_failure(failure::upstream_unauthorized, 502,
                         "the provider '" + provider.row.name +
                             "' refused its credential: " + error.message);
            co_return false;
        }
        if (status_as == 429) {
            const auto until = retry_at(call.header("retry-after"), steady::now());
            if (credential) {
                provider.balancer->rate_limited(credential->id, until);
            }
            retry_after_ = std::max<std::int64_t>(
                1, duration_cast<std::chrono::seconds>(until - steady::now()).count());
            note_failure(failure::upstream_rate_limited, 429,
                         "the provider '" + provider.row.name +
                             "' is rate-limiting: " + error.message);
            co_return false;
        }
        if (status_as >= 500 || status_as == 408) {
            note_failure(failure::upstream_error, status_as >= 500 ? status_as : 502,
                         "the provider '" + provider.row.name + "' failed: " + error.message,
                         error.code.empty() ? "upstream_error" : error.code);
            co_return false;
        }
        if (status < 400) {
            // 1xx or 3xx: redirects are never followed (the target would escape the checks).
            note_failure(failure::upstream_error, 502,
                         "the provider '" + provider.row.name + "' answered " +
                             std::to_string(status) + "; redirects are not followed");
            co_return false;
        }
        // The request itself is at fault: the client gets the provider's status and message.
        failure_ = failure::upstream_error;
        http::make_error(res_, http::error_kind::bad_request, error.message, "",
                         error.code.empty() ? "upstream_error" : error.code);
        res_.result(static_cast<bhttp::status>(status_as));
        co_return true;
    }

    bool network_failure(const target& to, const credential_row* credential, upstream::call_error e,
                         steady::time_point began) {
        log_attempt(to, credential, describe(e), 0, began);
        switch (e) {
        case upstream::call_error::cancelled:
            gone_ = true;
            return true;
        case upstream::call_error::timeout:
            note_failure(failure::upstream_timeout, 504,
                         "the provider '" + to.provider->row.name + "' did not answer in time");
            return false;
        default:
            note_failure(failure::upstream_unreachable, 502,
                         "cannot reach the provider '" + to.provider->row.name +
                             "': " + std::string(describe(e)));
            return false;
        }
    }

    asio::awaitable<bool> answer_whole(const target& to, const credential_row* credential,
                                       upstream::call& call, steady::time_point began,
                                       bool translated) {
        std::string body;
        const upstream::call_error read = co_await call.read_all(body);
        if (read != upstream::call_error::none) {
            co_return network_failure(to, credential, read, began);
        }
        log_attempt(to, credential, "ok", call.status(), began);
        if (credential) {
            to.provider->balancer->succeeded(credential->id);
        }
        answer_facts facts;
        const bool valid = translated ? translate_answer(to, body, facts)
                                      : to.adapter->decode_answer(which_, to.model, body, facts) &&
                                            front_.relayed_answer(which_, body, context(to));
        if (!valid) {
            note_failure(failure::upstream_error, 502,
                         "the provider '" + to.provider->row.name + "' answered with invalid JSON");
            answer_failure();
            co_return true;
        }
        set_json(res_, std::move(body));
        record_usage(facts.usage);
        row_.model_served = facts.model.empty() ? to.model : facts.model;
        if (which_ == endpoint::images) {
            row_.images = facts.items;
        }
        failure_ = failure::none;
        co_return true;
    }

    // A whole answer of another wire, through the canonical model, in place.
    bool translate_answer(const target& to, std::string& body, answer_facts& facts) const {
        if (which_ == endpoint::count_tokens) {
            std::int64_t tokens = 0;
            if (!to.adapter->decode_count(body, tokens)) {
                return false;
            }
            body = front_.encode_count(tokens);
            return true;
        }
        canon::chat_answer answer;
        if (!to.adapter->decode_chat(body, answer)) {
            return false;
        }
        if (answer.model.empty()) {
            answer.model = to.model;
        }
        facts.model = answer.model;
        facts.usage = answer.usage;
        body = front_.encode_answer(answer, context(to));
        return true;
    }

    // What the client's answer may say beside the model's output.
    [[nodiscard]] canon::answer_context context(const target& to) const {
        return {.provider = to.provider->row.name,
                .model = to.model,
                .request_id = row_.request_id,
                .include_usage = wants_usage_,
                .json_output = canonical_ && canonical_->format != canon::response_format::text};
    }

    asio::awaitable<bool> relay(const target& to, const credential_row* credential,
                                upstream::call& call, steady::time_point began, std::string& secret,
                                bool translated) {
        stream_state state;
        state.client_wants_usage = wants_usage_;
        event_splitter splitter(to.adapter->framing_of(call.header("content-type")));
        // Translating: provider events -> canonical events -> the client's events.
        std::unique_ptr<canon::stream_decoder> decoder;
        std::unique_ptr<canon::stream_encoder> encoder;
        std::vector<canon::event> events;
        if (translated) {
            decoder = to.adapter->chat_stream();
            encoder = front_.stream_encoder(context(to));
        }
        std::string piece;
        std::string out;
        bool done = false;
        for (;;) {
            piece.clear();
            upstream::call_error read =
                call.finished() ? upstream::call_error::none : co_await call.read_some(piece);
            // Take what else has already arrived: one write to the client for events that came
            // together (nothing waits for more).
            while (read == upstream::call_error::none && piece.size() < coalesce_limit &&
                   call.ready()) {
                read = co_await call.read_some(piece);
            }
            if (read != upstream::call_error::none) {
                if (!streaming_) {
                    co_return network_failure(to, credential, read, began);
                }
                log_attempt(to, credential, describe(read), call.status(), began);
                if (read == upstream::call_error::cancelled) {
                    gone_ = true;
                } else {
                    failure_ = read == upstream::call_error::timeout
                                   ? failure::upstream_timeout
                                   : failure::upstream_stream_error;
                    fail_stream(encoder.get(), describe(read), name_of(failure_));
                }
                break;
            }
            out.clear();
            splitter.feed(piece, [&](std::string_view event) {
                if (done || state.error) {
                    return;
                }
                if (translated) {
                    translate_event(*decoder, *encoder, event, events, state, out);
                    done = decoder->done();
                    return;
                }
                auto result = to.adapter->decode_event(event, state);
                switch (result.verdict) {
                case chunk_verdict::pass:
                    out.append(event);
                    break;
                case chunk_verdict::replace:
                    out.append(result.replacement);
                    break;
                case chunk_verdict::drop:
                    break;
                case chunk_verdict::done:
                    done = true;
                    break;
                case chunk_verdict::error:
                    break;
                }
            });
            if (!out.empty()) {
                if (!streaming_) {
                    stream_head();
                    if (!co_await out_.start_chunked(res_)) {
                        gone_ = true;
                        break;
                    }
                }
                if (!co_await out_.write_chunk(out)) {
                    gone_ = true;
                    break;
                }
            }
            if (state.error) {
                failure_ = failure::upstream_stream_error;
                fail_stream(encoder.get(), providers::scrub(*state.error, secret),
                            "upstream_stream_error");
                log_attempt(to, credential, "stream_error", call.status(), began);
                break;
            }
            if (done || call.finished()) {
                // The body's end usually follows [DONE] at once: read it if it is there, so
                // the connection goes back to the pool; never wait for it.
                while (done && call.ready()) {
                    piece.clear();
                    if (co_await call.read_some(piece) != upstream::call_error::none) {
                        break;
                    }
                }
                // A translated stream may have said something the client gets only in the
                // tail (an AIGNE answer that is all tool calls): that is not an empty stream.
                if (!streaming_ && !(translated ? decoded_ : done)) {
                    // An empty stream: nothing reached the client, so another attempt may run.
                    log_attempt(to, credential, "empty_stream", call.status(), began);
                    note_failure(failure::upstream_error, 502,
                                 "the provider '" + to.provider->row.name +
                                     "' ended the stream without an answer");
                    co_return false;
                }
                log_attempt(to, credential, "ok", call.status(), began);
                if (credential) {
                    to.provider->balancer->succeeded(credential->id);
                }
                failure_ = failure::none;
                if (encoder) {
                    encoder->finish(tail_);
                } else {
                    tail_ = front_.stream_end();
                }
                if (!streaming_) {
                    // Everything the client gets is in the tail (an AIGNE answer of tool calls).
                    stream_head();
                    gone_ = !co_await out_.start_chunked(res_);
                }
                break;
            }
        }
        row_.model_served = state.model.empty() ? to.model : state.model;
        record_usage(state.usage);
        if (!tail_error_.empty()) {
            tail_ = tail_error_;
        }
        if (!streaming_ && !gone_) {
            // Failed before the first byte reached the client: answer with a status instead.
            if (failure_ == failure::none) {
                note_failure(failure::upstream_stream_error, 502, "the stream ended early");
            }
            answer_failure();
        }
        co_return true;
    }

    // The head of a streamed answer, about to be sent: from here on, no retry.
    void stream_head() {
        streaming_ = true;
        row_.ttfb_us = duration_cast<microseconds>(steady::now() - out_.started()).count();
        res_.result(bhttp::status::ok);
        res_.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
        res_.set(bhttp::field::cache_control, "no-cache");
    }

    // One provider event through the canonical model: its usage and model are noted for the
    // record, and what it means is written for the client.
    void translate_event(canon::stream_decoder& decoder, canon::stream_encoder& encoder,
                         std::string_view raw, std::vector<canon::event>& events,
                         stream_state& state, std::string& out) {
        events.clear();
        auto error = decoder.feed(raw, events);
        decoded_ = decoded_ || !events.empty();
        for (const canon::event& e : events) {
            if (e.kind == canon::event_kind::usage) {
                state.usage = e.usage;
            } else if (e.kind == canon::event_kind::start && !e.name.empty()) {
                state.model = e.name;
            }
            encoder.write(e, out);
        }
        if (error) {
            state.error = std::move(error->message);
        }
    }

    // The error event that ends a stream which has begun.
    void fail_stream(canon::stream_encoder* encoder, std::string_view message,
                     std::string_view code) {
        if (encoder != nullptr) {
            encoder->fail(tail_error_, message, code);
        } else {
            front_.append_error_event(tail_error_, 502, message, "upstream_error", code);
        }
    }

    void record_usage(const usage_counts& usage) {
        row_.prompt_tokens = usage.prompt;
        row_.completion_tokens = usage.completion;
        row_.cached_tokens = usage.cached;
        row_.cache_write_5m_tokens = usage.cache_write_5m;
        row_.cache_write_1h_tokens = usage.cache_write_1h;
        row_.reasoning_tokens = usage.reasoning;
    }

    void spend_tokens() {
        const auth::principal& who = *ctx_.who;
        if (who.tpm && who.runtime) {
            who.runtime->spend_tokens(row_.prompt_tokens + row_.completion_tokens, *who.tpm,
                                      auth::clock::now());
        }
    }

    services& gw_;
    detail::log_sink* log_;
    const client_protocol& front_;
    endpoint which_;
    const http::request& req_;
    http::response& res_;
    const http::route_context& ctx_;
    http::responder& out_;
    request_view request_;
    std::optional<canon::chat_request> canonical_; ///< decoded when a provider needs it
    std::optional<bad_field> canonical_bad_;
    std::vector<target> targets_;
    usage_row row_;
    bool stream_ = false;
    bool wants_usage_ = false;
    bool streaming_ = false; ///< the client has the head of a streamed answer
    bool decoded_ = false;   ///< a translated stream decoded something
    bool gone_ = false;
    unsigned attempts_ = 0;
    failure failure_ = failure::none;
    unsigned failure_status_ = 502;
    std::string failure_message_;
    std::string failure_code_;
    std::string failure_param_;
    std::int64_t retry_after_ = 0;
    std::string tail_;       ///< the last bytes of a stream, sent once the record is durable
    std::string tail_error_; ///< an error event ending the stream
};

} // namespace

namespace {

// Errors on the Anthropic front door, whoever wrote them (the key check, the exchange), in
// Anthropic's shape: {"type":"error","error":{"type","message"}}.
void anthropic_error(http::response& res) {
    const ojson body = ojson::parse(res.body(), nullptr, false);
    std::string message = "request failed";
    if (body.is_object() && body.contains("error") && body["error"].is_object()) {
        if (const auto& m = body["error"].value("message", ojson()); m.is_string()) {
            message = m.get<std::string>();
        }
    }
    res.body() = anthropic::error_body(res.result_int(), message);
    res.set(bhttp::field::content_type, "application/json");
}

} // namespace

void add_routes(http::router& r, std::shared_ptr<services> gateway, detail::log_sink* log) {
    const auto route = [&](std::string path, endpoint which, const client_protocol& front,
                           http::route_options options) {
        r.add_async(
            bhttp::verb::post, std::move(path),
            [gateway, log, which, &front](const http::request& req, http::response& res,
                                          const http::route_context& ctx,
                                          http::responder& out) -> asio::awaitable<void> {
                using namespace asio::experimental::awaitable_operators;
                exchange job(*gateway, log, front, which, req, res, ctx, out);
                if (!job.prepare()) {
                    co_await job.finish(false);
                    co_return;
                }
                const auto ended = co_await (job.run() || out.client_gone());
                co_await job.finish(ended.index() == 1 && std::get<1>(ended));
            },
            options);
    };
    constexpr http::route_options openai{.who = http::access::key};
    route("/v1/chat/completions", endpoint::chat, openai_protocol(), openai);
    route("/v1/embeddings", endpoint::embeddings, openai_protocol(), openai);
    route("/v1/images/generations", endpoint::images, openai_protocol(), openai);
    // The same at the server's root: @aigne/aigne-hub hands a model named "openai/..." to its
    // own OpenAI client, which posts to <baseURL>/chat/completions with the hub's origin.
    route("/chat/completions", endpoint::chat, openai_protocol(), openai);
    route("/embeddings", endpoint::embeddings, openai_protocol(), openai);
    route("/images/generations", endpoint::images, openai_protocol(), openai);
    constexpr http::route_options anthropic{.who = http::access::key,
                                            .reshape_error = &anthropic_error};
    route("/v1/messages", endpoint::chat, anthropic_protocol(), anthropic);
    route("/v1/messages/count_tokens", endpoint::count_tokens, anthropic_protocol(), anthropic);
    // The AIGNE Hub component is mounted at "/" (see frontdoor/aigne.cpp's discovery document).
    route("/api/v2/chat", endpoint::chat, aigne_protocol(), openai);
    route("/api/v2/image", endpoint::images, aigne_protocol(), openai);
    route("/api/v2/embeddings", endpoint::embeddings, aigne_protocol(), openai);
}

} // namespace aignehub::gateway
