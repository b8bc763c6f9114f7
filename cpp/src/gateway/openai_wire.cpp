#include "gateway/openai_wire.hpp"

#include "core/log.hpp"
#include "gateway/codec_util.hpp"
#include "gateway/json_scan.hpp"
#include "gateway/sse.hpp"

#include <algorithm>

#include <array>
#include <utility>

namespace aignehub::gateway {

namespace {

using codec::clean_text;

enum class kind {
    string,
    integer,
    number,
    boolean,
    object,
    array,
    string_or_array,
    text_or_object
};

bool is(const scan::value& v, kind k) {
    switch (k) {
    case kind::string:
        return v.type == scan::kind::string;
    case kind::integer:
        return v.type == scan::kind::number && scan::integer_of(v).has_value();
    case kind::number:
        return v.type == scan::kind::number;
    case kind::boolean:
        return v.type == scan::kind::boolean;
    case kind::object:
        return v.type == scan::kind::object;
    case kind::array:
        return v.type == scan::kind::array;
    case kind::string_or_array:
        return v.type == scan::kind::string || v.type == scan::kind::array;
    case kind::text_or_object:
        return v.type == scan::kind::string || v.type == scan::kind::object;
    }
    return false;
}

std::string_view name_of(kind k) {
    switch (k) {
    case kind::string:
        return "a string";
    case kind::integer:
        return "an integer";
    case kind::number:
        return "a number";
    case kind::boolean:
        return "a boolean";
    case kind::object:
        return "an object";
    case kind::array:
        return "an array";
    case kind::string_or_array:
        return "a string or an array";
    case kind::text_or_object:
        return "a string or an object";
    }
    return "valid";
}

struct field_rule {
    std::string_view name;
    kind type;
};

constexpr std::array chat_fields{
    field_rule{"stream", kind::boolean},
    field_rule{"stream_options", kind::object},
    field_rule{"n", kind::integer},
    field_rule{"temperature", kind::number},
    field_rule{"top_p", kind::number},
    field_rule{"max_tokens", kind::integer},
    field_rule{"max_completion_tokens", kind::integer},
    field_rule{"seed", kind::integer},
    field_rule{"stop", kind::string_or_array},
    field_rule{"tools", kind::array},
    field_rule{"tool_choice", kind::text_or_object},
    field_rule{"response_format", kind::object},
    field_rule{"parallel_tool_calls", kind::boolean},
    field_rule{"reasoning_effort", kind::string},
    field_rule{"presence_penalty", kind::number},
    field_rule{"frequency_penalty", kind::number},
    field_rule{"logit_bias", kind::object},
    field_rule{"logprobs", kind::boolean},
    field_rule{"top_logprobs", kind::integer},
    field_rule{"user", kind::string},
    field_rule{"metadata", kind::object},
    field_rule{"store", kind::boolean},
    field_rule{"modalities", kind::array},
};

constexpr std::array embedding_fields{
    field_rule{"input", kind::string_or_array},
    field_rule{"encoding_format", kind::string},
    field_rule{"dimensions", kind::integer},
    field_rule{"user", kind::string},
};

constexpr std::array image_fields{
    field_rule{"prompt", kind::string},
    field_rule{"n", kind::integer},
    field_rule{"size", kind::string},
    field_rule{"quality", kind::string},
    field_rule{"style", kind::string},
    field_rule{"response_format", kind::string},
    field_rule{"background", kind::string},
    field_rule{"output_format", kind::string},
    field_rule{"output_compression", kind::integer},
    field_rule{"user", kind::string},
};

template <std::size_t N>
std::optional<bad_field> check_type(std::string_view key, const scan::value& v,
                                    const std::array<field_rule, N>& rules) {
    for (const auto& rule : rules) {
        if (scan::key_is(key, rule.name)) {
            if (v.type != scan::kind::null && !is(v, rule.type)) {
                return bad_field{std::string(rule.name),
                                 std::string(rule.name) + " must be " +
                                     std::string(name_of(rule.type)),
                                 "invalid_request"};
            }
            break;
        }
    }
    return std::nullopt;
}

std::optional<bad_field> check_messages(const scan::value& messages) {
    if (messages.type != scan::kind::array) {
        return bad_field{"messages", "messages is required and must be an array of messages",
                         "invalid_request"};
    }
    std::optional<bad_field> bad;
    std::size_t i = 0;
    scan::elements(messages, [&](const scan::value& message) {
        const std::string where = "messages[" + std::to_string(i++) + "]";
        if (message.type != scan::kind::object) {
            bad = bad_field{where, where + " must be an object", "invalid_request"};
            return false;
        }
        bool has_role = false;
        scan::members(message, [&](std::string_view key, const scan::value& v) {
            if (scan::key_is(key, "role")) {
                has_role = v.type == scan::kind::string;
            } else if (scan::key_is(key, "content") && v.type != scan::kind::null &&
                       v.type != scan::kind::string && v.type != scan::kind::array) {
                bad = bad_field{where + ".content",
                                where + ".content must be a string or an array of parts",
                                "invalid_request"};
                return false;
            }
            return true;
        });
        if (!bad && !has_role) {
            bad = bad_field{where + ".role", where + ".role is required and must be a string",
                            "invalid_request"};
        }
        return !bad;
    });
    if (!bad && i == 0) {
        bad = bad_field{"messages", "messages must hold at least one message", "invalid_request"};
    }
    return bad;
}

// Joins an array of typed content parts ({"type":"text","text":...}, {"type":"thinking",...})
// into text, and thinking into `reasoning`.
void flatten_parts(const ojson& parts, std::string& text, std::string& reasoning) {
    for (const auto& part : parts) {
        if (part.is_string()) {
            text += part.get<std::string>();
            continue;
        }
        if (!part.is_object()) {
            continue;
        }
        const std::string type = part.value("type", "");
        if (type == "text" && part.contains("text") && part["text"].is_string()) {
            text += part["text"].get<std::string>();
        } else if (type == "thinking") {
            const auto thinking = part.find("thinking");
            if (thinking != part.end() && thinking->is_array()) {
                std::string ignored;
                flatten_parts(*thinking, reasoning, ignored);
            } else if (thinking != part.end() && thinking->is_string()) {
                reasoning += thinking->get<std::string>();
            }
        }
    }
}

// Normalises one message or delta object; true when it changed.
bool normalise_message(ojson& message) {
    if (!message.is_object()) {
        return false;
    }
    bool changed = false;
    if (const auto content = message.find("content");
        content != message.end() && content->is_array()) {
        std::string text;
        std::string reasoning;
        flatten_parts(*content, text, reasoning);
        *content = text;
        if (!reasoning.empty() && !message.contains("reasoning_content")) {
            message["reasoning_content"] = reasoning;
        }
        changed = true;
    }
    if (const auto reasoning = message.find("reasoning"); reasoning != message.end() &&
                                                          reasoning->is_string() &&
                                                          !message.contains("reasoning_content")) {
        message["reasoning_content"] = *reasoning;
        changed = true;
    }
    return changed;
}

bool normalise_choices(ojson& body, const char* part) {
    bool changed = false;
    if (const auto choices = body.find("choices"); choices != body.end() && choices->is_array()) {
        for (auto& choice : *choices) {
            if (choice.is_object()) {
                if (const auto m = choice.find(part); m != choice.end()) {
                    changed = normalise_message(*m) || changed;
                }
            }
        }
    }
    return changed;
}

// Copies Groq's x_groq.usage to the standard place; true when it did.
bool lift_groq_usage(ojson& body) {
    const auto x = body.find("x_groq");
    if (x == body.end() || !x->is_object() ||
        (body.contains("usage") && !body["usage"].is_null())) {
        return false;
    }
    const auto usage = x->find("usage");
    if (usage == x->end() || !usage->is_object()) {
        return false;
    }
    body["usage"] = *usage; // the standard counts, and Groq's timings beside them
    return true;
}

// True when a stream event may carry something the gateway reads or rewrites: usage (also
// Groq's), an error, a quirk, [DONE], or an event type. One pass hopping from quote to quote;
// a plain content delta costs a few memchr calls.
bool worth_parsing(std::string_view raw) {
    if (!raw.starts_with("data:") || raw.find("[DONE]") != std::string_view::npos) {
        return true; // an "event:" or other field first, or the end
    }
    for (std::size_t q = raw.find('"'); q != std::string_view::npos; q = raw.find('"', q + 1)) {
        const std::string_view at = raw.substr(q + 1);
        const auto value_is = [&](std::string_view key, char open) {
            if (!at.starts_with(key) || at.size() <= key.size() || at[key.size()] != '"') {
                return false;
            }
            std::size_t v = key.size() + 1;
            while (v < at.size() && (at[v] == ':' || at[v] == ' ')) {
                ++v;
            }
            return open == 0 || (v < at.size() && at[v] == open);
        };
        if (value_is("usage", '{') || value_is("x_groq", 0) || value_is("error", 0) ||
            value_is("reasoning", 0) || value_is("content", '[')) {
            return true;
        }
    }
    return false;
}

} // namespace

namespace {

std::int64_t int_of(const scan::value& v) {
    return v.type == scan::kind::number ? scan::integer_of(v).value_or(0) : 0;
}

// Reads the counts of a usage object (chat, embeddings, images and DeepSeek's names).
void usage_from(const scan::value& usage, usage_counts& out) {
    out = usage_counts{};
    out.reported = true;
    std::int64_t input = 0;
    std::int64_t output = 0;
    std::int64_t total = 0;
    scan::members(usage, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "prompt_tokens")) {
            out.prompt = int_of(v);
        } else if (scan::key_is(key, "total_tokens")) {
            total = int_of(v);
        } else if (scan::key_is(key, "completion_tokens")) {
            out.completion = int_of(v);
        } else if (scan::key_is(key, "input_tokens")) {
            input = int_of(v);
        } else if (scan::key_is(key, "output_tokens")) {
            output = int_of(v);
        } else if (scan::key_is(key, "prompt_cache_hit_tokens")) {
            out.cached = int_of(v);
        } else if (scan::key_is(key, "prompt_tokens_details") && v.type == scan::kind::object) {
            scan::members(v, [&](std::string_view k, const scan::value& d) {
                if (scan::key_is(k, "cached_tokens")) {
                    out.cached = int_of(d);
                } else if (scan::key_is(k, "cache_write_tokens") ||
                           scan::key_is(k, "cache_creation_tokens")) {
                    // OpenRouter's cache writes (and this gateway's own name for them); the
                    // entry's lifetime is not reported: the 5-minute default.
                    out.cache_write_5m = int_of(d);
                }
                return true;
            });
        } else if (scan::key_is(key, "completion_tokens_details") && v.type == scan::kind::object) {
            scan::members(v, [&](std::string_view k, const scan::value& d) {
                if (scan::key_is(k, "reasoning_tokens")) {
                    out.reasoning = int_of(d);
                }
                return true;
            });
        }
        return true;
    });
    if (out.prompt == 0 && out.completion == 0) { // image generation counts input and output
        out.prompt = input;
        out.completion = output;
    }
    // xAI counts reasoning beside completion_tokens, not in it (the total has both): output
    // tokens are completion plus reasoning there, as everywhere else.
    if (out.reasoning > 0 && total == out.prompt + out.completion + out.reasoning) {
        out.completion += out.reasoning;
    }
}

// True when a choice's message or delta has a quirk normalise_message rewrites.
bool quirky_choices(const scan::value& choices) {
    bool quirky = false;
    scan::elements(choices, [&](const scan::value& choice) {
        if (choice.type != scan::kind::object) {
            return true;
        }
        scan::members(choice, [&](std::string_view key, const scan::value& message) {
            if ((scan::key_is(key, "message") || scan::key_is(key, "delta")) &&
                message.type == scan::kind::object) {
                scan::members(message, [&](std::string_view k, const scan::value& v) {
                    quirky = quirky ||
                             (scan::key_is(k, "content") && v.type == scan::kind::array) ||
                             scan::key_is(k, "reasoning");
                    return !quirky;
                });
            }
            return !quirky;
        });
        return !quirky;
    });
    return quirky;
}

} // namespace

bool read_answer(std::string_view body, answer_facts& out) {
    if (!scan::valid(body)) {
        return false;
    }
    const scan::value top = scan::document(body);
    if (top.type != scan::kind::object) {
        return false;
    }
    scan::members(top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "model") && v.type == scan::kind::string) {
            out.model = scan::text_of(v);
        } else if (scan::key_is(key, "usage") && v.type == scan::kind::object) {
            usage_from(v, out.usage);
        } else if (scan::key_is(key, "x_groq")) {
            out.quirks = true; // its usage is lifted to "usage" (read after normalising)
        } else if (scan::key_is(key, "data") && v.type == scan::kind::array) {
            scan::elements(v, [&](const scan::value&) {
                ++out.items;
                return true;
            });
        } else if (scan::key_is(key, "choices") && v.type == scan::kind::array) {
            out.quirks = out.quirks || quirky_choices(v);
        }
        return true;
    });
    return true;
}

std::string dump(const ojson& value) {
    return value.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::optional<bad_field> read_request(endpoint which, std::string_view body, request_view& out) {
    if (!scan::valid(body)) {
        return bad_field{"", "the request body is not valid JSON", "invalid_json"};
    }
    const scan::value top = scan::document(body);
    if (top.type != scan::kind::object) {
        return bad_field{"", "the request body must be a JSON object", "invalid_request"};
    }
    out.body = body;
    out.close = static_cast<std::size_t>(top.text.data() - body.data()) + top.text.size() - 1;
    const auto offset = [&](const scan::value& v) {
        return static_cast<std::size_t>(v.text.data() - body.data());
    };
    std::optional<bad_field> bad;
    std::optional<scan::value> model;
    std::optional<scan::value> messages;
    bool has_input = false;
    bool has_prompt = false;
    unsigned seen = 0; // bits: model, messages, stream, stream_options
    const auto once = [&](unsigned bit, std::string_view name) {
        if ((seen & bit) != 0) {
            bad = bad_field{std::string(name), std::string(name) + " is given more than once",
                            "invalid_request"};
            return false;
        }
        seen |= bit;
        return true;
    };
    scan::members(top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "model")) {
            if (!once(1, "model")) {
                return false;
            }
            model = v;
        } else if (scan::key_is(key, "messages")) {
            if (!once(2, "messages")) {
                return false;
            }
            messages = v;
        } else if (scan::key_is(key, "stream")) {
            if (!once(4, "stream")) {
                return false;
            }
            out.stream = v.type == scan::kind::boolean && v.text == "true";
        } else if (scan::key_is(key, "stream_options")) {
            if (!once(8, "stream_options")) {
                return false;
            }
            out.options = {offset(v), v.text.size()};
            out.options_null = v.type == scan::kind::null;
            if (v.type == scan::kind::object) {
                scan::members(v, [&](std::string_view k, const scan::value& iu) {
                    if (scan::key_is(k, "include_usage")) {
                        if (iu.type != scan::kind::boolean && iu.type != scan::kind::null) {
                            bad = bad_field{"stream_options.include_usage",
                                            "stream_options.include_usage must be a boolean",
                                            "invalid_request"};
                            return false;
                        }
                        out.wants_usage = iu.text == "true";
                        out.include_usage = {offset(iu), iu.text.size()};
                    }
                    return true;
                });
            }
        } else if (scan::key_is(key, "input")) {
            has_input = v.type != scan::kind::null;
        } else if (scan::key_is(key, "prompt")) {
            has_prompt = v.type == scan::kind::string;
        }
        if (!bad) {
            switch (which) {
            case endpoint::chat:
            case endpoint::count_tokens:
                bad = check_type(key, v, chat_fields);
                break;
            case endpoint::embeddings:
                bad = check_type(key, v, embedding_fields);
                break;
            case endpoint::images:
                bad = check_type(key, v, image_fields);
                break;
            }
        }
        return !bad;
    });
    if (bad) {
        return bad;
    }
    if (!model || model->type != scan::kind::string || model->text.size() <= 2) {
        return bad_field{"model", "model is required and must be a non-empty string",
                         "invalid_request"};
    }
    out.model = scan::text_of(*model);
    out.model_at = {offset(*model), model->text.size()};
    switch (which) {
    case endpoint::chat:
    case endpoint::count_tokens:
        if (!messages) {
            return bad_field{"messages", "messages is required and must be an array of messages",
                             "invalid_request"};
        }
        return check_messages(*messages);
    case endpoint::embeddings:
        if (!has_input) {
            return bad_field{"input", "input is required: a string or an array", "invalid_request"};
        }
        return std::nullopt;
    case endpoint::images:
        if (!has_prompt) {
            return bad_field{"prompt", "prompt is required and must be a string",
                             "invalid_request"};
        }
        return std::nullopt;
    }
    return std::nullopt;
}

std::string upstream_body(const request_view& request, std::string_view model_id) {
    struct edit {
        std::size_t at;
        std::size_t length;
        std::string text;
    };
    std::vector<edit> edits;
    edits.push_back({request.model_at.first, request.model_at.second, scan::quoted(model_id)});
    if (request.stream) {
        // The gateway meters every stream: include_usage is forced on.
        if (request.include_usage) {
            edits.push_back({request.include_usage->first, request.include_usage->second, "true"});
        } else if (request.options && !request.options_null) {
            const std::string_view object =
                request.body.substr(request.options->first, request.options->second);
            const bool empty = scan::detail::skip_ws(object, 1) == object.size() - 1;
            edits.push_back({request.options->first + 1, 0,
                             empty ? R"("include_usage":true)" : R"("include_usage":true,)"});
        } else if (request.options) {
            edits.push_back(
                {request.options->first, request.options->second, R"({"include_usage":true})"});
        } else {
            edits.push_back({request.close, 0, R"(,"stream_options":{"include_usage":true})"});
        }
    }
    std::sort(edits.begin(), edits.end(), [](const edit& a, const edit& b) { return a.at < b.at; });
    std::string out;
    out.reserve(request.body.size() + 64);
    std::size_t from = 0;
    for (const auto& e : edits) {
        out.append(request.body.substr(from, e.at - from));
        out.append(e.text);
        from = e.at + e.length;
    }
    out.append(request.body.substr(from));
    return out;
}

bool normalise_chat(ojson& body) {
    if (!body.is_object()) {
        return false;
    }
    bool changed = normalise_choices(body, "message");
    changed = normalise_choices(body, "delta") || changed;
    changed = lift_groq_usage(body) || changed;
    return changed;
}

namespace {

// The general path for one event: parsed into a DOM, for errors and quirks to rewrite.
chunk_result process_parsed(const sse_event& event, stream_state& state, bool first) {
    ojson chunk = ojson::parse(event.data, nullptr, false);
    if (event.name == "error" || (chunk.is_object() && chunk.contains("error"))) {
        const auto error = chunk.is_object() ? chunk.find("error") : chunk.end();
        std::string message = "the provider reported an error in the stream";
        if (chunk.is_object() && error != chunk.end()) {
            if (error->is_object() && error->contains("message") &&
                (*error)["message"].is_string()) {
                message = (*error)["message"].get<std::string>();
            } else if (error->is_string()) {
                message = error->get<std::string>();
            }
        } else if (!event.data.empty() && chunk.is_discarded()) {
            message = event.data;
        }
        state.error = clean_text(message, 500);
        return {chunk_verdict::error, {}};
    }
    if (!chunk.is_object()) {
        return {}; // not JSON: relay as it came
    }
    if (first) {
        if (const auto m = chunk.find("model"); m != chunk.end() && m->is_string()) {
            state.model = m->get<std::string>();
        }
    }
    const bool changed = normalise_chat(chunk);
    std::string text = dump(chunk);
    answer_facts facts; // the usage, read by the one mapping there is (Groq's now lifted)
    if (read_answer(text, facts) && facts.usage.reported) {
        state.usage = facts.usage;
        const auto choices = chunk.find("choices");
        if (!state.client_wants_usage &&
            (choices == chunk.end() || !choices->is_array() || choices->empty())) {
            return {chunk_verdict::drop, {}};
        }
    }
    if (!changed) {
        return {};
    }
    return {chunk_verdict::replace, "data: " + text + "\n\n"};
}

} // namespace

chunk_result process_chat_event(std::string_view raw, stream_state& state) {
    // Most chunks of a stream are plain content deltas: they pass without being parsed. A chunk
    // is read when it may carry the model (the first), usage, an error or a quirk: by the
    // scanner, and into a DOM only for an error or a quirk to rewrite.
    const bool first = state.model.empty();
    if (!first && !worth_parsing(raw)) {
        return {};
    }
    const sse_event event = parse_event(raw);
    if (event.data.empty() && event.name.empty()) {
        return {}; // a comment or keep-alive
    }
    if (event.data == "[DONE]") {
        return {chunk_verdict::done, {}};
    }
    if (!event.name.empty() || !scan::valid(event.data)) {
        return process_parsed(event, state, first);
    }
    const scan::value top = scan::document(event.data);
    if (top.type != scan::kind::object) {
        return {};
    }
    bool rewrite = false;
    bool usage = false;
    bool no_choices = true;
    std::string model;
    usage_counts counts;
    scan::members(top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "model") && v.type == scan::kind::string) {
            if (first) {
                model = scan::text_of(v);
            }
        } else if (scan::key_is(key, "error") || scan::key_is(key, "x_groq")) {
            rewrite = true;
        } else if (scan::key_is(key, "usage") && v.type == scan::kind::object) {
            usage_from(v, counts);
            usage = true;
        } else if (scan::key_is(key, "choices") && v.type == scan::kind::array) {
            scan::elements(v, [&](const scan::value&) {
                no_choices = false;
                return false;
            });
            rewrite = rewrite || quirky_choices(v);
        }
        return !rewrite;
    });
    if (rewrite) {
        return process_parsed(event, state, first);
    }
    if (first) {
        state.model = std::move(model);
    }
    if (usage) {
        state.usage = counts;
        if (!state.client_wants_usage && no_choices) {
            // The extra usage-only chunk that include_usage adds goes; usage a provider puts in
            // a content chunk of its own accord passes, as it would without the gateway.
            return {chunk_verdict::drop, {}};
        }
    }
    return {};
}

upstream_error read_error(unsigned status, std::string_view body) {
    upstream_error out;
    out.type = status >= 500 ? "upstream_error" : "invalid_request_error";
    const ojson parsed = ojson::parse(body, nullptr, false);
    const auto text_of = [](const ojson& v) -> std::string {
        if (v.is_string()) {
            return v.get<std::string>();
        }
        return v.is_null() ? std::string() : v.dump();
    };
    if (parsed.is_object()) {
        const auto error = parsed.find("error");
        if (error != parsed.end() && error->is_object()) {
            out.message = text_of(error->value("message", ojson()));
            if (const auto t = error->find("type"); t != error->end() && t->is_string()) {
                out.type = t->get<std::string>();
            }
            if (const auto c = error->find("code"); c != error->end() && !c->is_null()) {
                out.code = text_of(*c);
            }
        } else if (error != parsed.end()) {
            out.message = text_of(*error);
        } else if (const auto d = parsed.find("detail"); d != parsed.end()) {
            out.message = text_of(*d);
        } else if (const auto m = parsed.find("message"); m != parsed.end()) {
            out.message = text_of(*m);
        }
    }
    if (out.message.empty()) {
        out.message = body.empty() ? "the provider answered " + std::to_string(status)
                                   : "the provider answered " + std::to_string(status) + ": " +
                                         std::string(body.substr(0, 200));
    }
    out.message = clean_text(out.message, 1000);
    return out;
}

void append_error_event(std::string& out, std::string_view message, std::string_view type,
                        std::string_view code) {
    out.append(R"(data: {"error":{"message":)");
    detail::append_json_string(out, message);
    out.append(R"(,"type":)");
    detail::append_json_string(out, type);
    out.append(R"(,"param":null,"code":)");
    detail::append_json_string(out, code);
    out.append("}}\n\n");
}

} // namespace aignehub::gateway
