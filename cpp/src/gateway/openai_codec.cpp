#include "gateway/openai_codec.hpp"

#include "core/log.hpp"
#include "gateway/codec_util.hpp"
#include "gateway/sse.hpp"

#include <chrono>
#include <utility>
#include <vector>

namespace aignehub::gateway::openai {

namespace {

using canon::part_kind;
using codec::integer_of;
using codec::make_event;
using codec::make_part;
using codec::member;
using codec::refuse;
using codec::string_member;

// ---- small helpers --------------------------------------------------------------------------

bad_field untranslatable(const std::string& param) {
    return refuse(param, "'" + param + "' cannot be translated for this provider");
}

bad_field must_be(const std::string& param, std::string_view what) {
    return refuse(param, param + " must be " + std::string(what));
}

std::string at(std::string_view base, std::size_t index) {
    return std::string(base) + "[" + std::to_string(index) + "]";
}

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string completion_id(std::string_view id) {
    if (id.starts_with("chatcmpl")) {
        return std::string(id);
    }
    return "chatcmpl-" + (id.empty() ? codec::random_hex(12) : std::string(id));
}

std::optional<bad_field> read(const ojson& v, const std::string& param, std::string& out) {
    if (!v.is_string()) {
        return must_be(param, "a string");
    }
    out = v.get<std::string>();
    return std::nullopt;
}

std::optional<bad_field> read(const ojson& v, const std::string& param,
                              std::optional<std::int64_t>& out) {
    out = integer_of(v);
    if (!out) {
        return must_be(param, "an integer");
    }
    return std::nullopt;
}

std::optional<bad_field> read(const ojson& v, const std::string& param,
                              std::optional<double>& out) {
    if (!v.is_number()) {
        return must_be(param, "a number");
    }
    out = v.get<double>();
    return std::nullopt;
}

std::optional<bad_field> read(const ojson& v, const std::string& param, bool& out) {
    if (!v.is_boolean()) {
        return must_be(param, "a boolean");
    }
    out = v.get<bool>();
    return std::nullopt;
}

canon::part reasoning_part_of(std::string text, std::string signature) {
    canon::part p = make_part(part_kind::reasoning, std::move(text));
    p.signature = std::move(signature);
    return p;
}

// ---- decode_request: the client's messages --------------------------------------------------

std::optional<bad_field> read_cache_control(const ojson& holder, const std::string& where,
                                            ojson& out) {
    const ojson& cc = member(holder, "cache_control");
    if (cc.is_null()) {
        return std::nullopt;
    }
    if (!cc.is_object()) {
        return must_be(where + ".cache_control", "an object");
    }
    out = cc;
    return std::nullopt;
}

// A {"type":"text","text":...} part, the only kind system and tool messages may hold.
std::optional<bad_field> text_part(const ojson& p, const std::string& where, canon::part& out) {
    if (!p.is_object() || string_member(p, "type") != "text") {
        return refuse(where, where + " must be a text part here");
    }
    if (auto bad = read(member(p, "text"), where + ".text", out.text)) {
        return bad;
    }
    return read_cache_control(p, where, out.cache_control);
}

// String content as one text part, or an array of text parts.
std::optional<bad_field> text_content(const ojson& content, const std::string& where,
                                      std::vector<canon::part>& out) {
    if (content.is_string()) {
        out.push_back(make_part(part_kind::text, content.get<std::string>()));
        return std::nullopt;
    }
    if (!content.is_array()) {
        return must_be(where, "a string or an array of text parts");
    }
    for (std::size_t j = 0; j < content.size(); ++j) {
        canon::part p;
        if (auto bad = text_part(content[j], at(where, j), p)) {
            return bad;
        }
        out.push_back(std::move(p));
    }
    return std::nullopt;
}

std::optional<bad_field> image_part(const ojson& p, const std::string& where, canon::part& out) {
    const ojson& image = member(p, "image_url");
    const ojson& url_value = image.is_string() ? image : member(image, "url");
    if (!url_value.is_string()) {
        return must_be(where + ".image_url.url", "a string");
    }
    const std::string url = url_value.get<std::string>();
    out.kind = part_kind::image;
    if (auto parsed = codec::parse_data_url(url); parsed && !parsed->media_type.empty()) {
        out.media_type = std::move(parsed->media_type);
        out.data = std::move(parsed->data);
    } else if (url.starts_with("https://") || url.starts_with("http://")) {
        out.url = url;
    } else {
        return refuse(where + ".image_url.url",
                      where + ".image_url.url must be an http(s) URL or a base64 data URL");
    }
    return std::nullopt;
}

std::optional<bad_field> file_part(const ojson& p, const std::string& where, canon::part& out) {
    const ojson& file = member(p, "file");
    if (!file.is_object()) {
        return must_be(where + ".file", "an object");
    }
    if (!member(file, "file_id").is_null()) {
        return refuse(where + ".file.file_id",
                      "'" + where +
                          ".file.file_id' cannot be translated for this provider: uploaded files "
                          "live at OpenAI; send the file inline as file_data");
    }
    const ojson& data = member(file, "file_data");
    if (!data.is_string()) {
        return must_be(where + ".file.file_data", "a base64 data URL");
    }
    auto parsed = codec::parse_data_url(data.get<std::string>());
    if (!parsed || parsed->media_type.empty()) {
        return must_be(where + ".file.file_data", "a base64 data URL");
    }
    if (parsed->media_type != "application/pdf") {
        return refuse(where + ".file.file_data",
                      "only PDF files (application/pdf) can be translated for this provider");
    }
    out.kind = part_kind::document;
    out.media_type = std::move(parsed->media_type);
    out.data = std::move(parsed->data);
    if (const ojson& name = member(file, "filename"); name.is_string()) {
        out.title = name.get<std::string>();
    }
    return std::nullopt;
}

std::optional<bad_field> user_part(const ojson& p, const std::string& where, canon::part& out) {
    if (!p.is_object()) {
        return must_be(where, "an object");
    }
    const std::string type = string_member(p, "type");
    std::optional<bad_field> bad;
    if (type == "text") {
        bad = read(member(p, "text"), where + ".text", out.text);
    } else if (type == "image_url") {
        bad = image_part(p, where, out);
    } else if (type == "file") {
        bad = file_part(p, where, out);
    } else if (type == "input_audio") {
        return untranslatable(where);
    } else {
        return refuse(where + ".type", "'" + where + ".type' " +
                                           (type.empty() ? std::string("is missing")
                                                         : "'" + type + "' is not supported"));
    }
    if (bad) {
        return bad;
    }
    return read_cache_control(p, where, out.cache_control);
}

std::optional<bad_field> assistant_message(const ojson& m, const std::string& where,
                                           canon::message& out) {
    out.who = canon::role::assistant;
    bool had_blocks = false;
    if (const ojson& blocks = member(m, "thinking_blocks"); !blocks.is_null()) {
        if (!blocks.is_array()) {
            return must_be(where + ".thinking_blocks", "an array");
        }
        for (std::size_t k = 0; k < blocks.size(); ++k) {
            const ojson& b = blocks[k];
            const std::string type = string_member(b, "type");
            canon::part p;
            if (type == "thinking") {
                p.kind = part_kind::reasoning;
                p.text = string_member(b, "thinking");
                p.signature = string_member(b, "signature");
            } else if (type == "redacted_thinking") {
                p.kind = part_kind::redacted_reasoning;
                p.data = string_member(b, "data");
            } else {
                return refuse(at(where + ".thinking_blocks", k) + ".type",
                              "thinking blocks must be of type thinking or redacted_thinking");
            }
            out.parts.push_back(std::move(p));
            had_blocks = true;
        }
    }
    if (const ojson& rc = member(m, "reasoning_content");
        !had_blocks && rc.is_string() && !rc.get<std::string>().empty()) {
        out.parts.push_back(reasoning_part_of(rc.get<std::string>(), {}));
    }
    const ojson& content = member(m, "content");
    if (content.is_string()) {
        if (!content.get<std::string>().empty()) {
            out.parts.push_back(make_part(part_kind::text, content.get<std::string>()));
        }
    } else if (content.is_array()) {
        for (std::size_t j = 0; j < content.size(); ++j) {
            const std::string part_at = at(where + ".content", j);
            if (string_member(content[j], "type") == "refusal") {
                continue; // what the model declined is not part of the conversation to carry on
            }
            canon::part p;
            if (auto bad = text_part(content[j], part_at, p)) {
                return bad;
            }
            out.parts.push_back(std::move(p));
        }
    }
    if (const ojson& calls = member(m, "tool_calls"); !calls.is_null()) {
        if (!calls.is_array()) {
            return must_be(where + ".tool_calls", "an array");
        }
        for (std::size_t k = 0; k < calls.size(); ++k) {
            const std::string call_at = at(where + ".tool_calls", k);
            const ojson& c = calls[k];
            if (!c.is_object()) {
                return must_be(call_at, "an object");
            }
            if (const ojson& t = member(c, "type"); !t.is_null() && t != "function") {
                return untranslatable(call_at + ".type");
            }
            const ojson& fn = member(c, "function");
            canon::part p = make_part(part_kind::tool_call);
            if (auto bad = read(member(c, "id"), call_at + ".id", p.id)) {
                return bad;
            }
            if (auto bad = read(member(fn, "name"), call_at + ".function.name", p.name)) {
                return bad;
            }
            const ojson& args = member(fn, "arguments");
            if (args.is_string()) {
                p.arguments = args.get<std::string>();
            } else if (args.is_object()) {
                p.arguments = dump(args);
            } else if (!args.is_null()) {
                return must_be(call_at + ".function.arguments", "a string");
            }
            if (p.arguments.empty()) {
                p.arguments = "{}";
            }
            out.parts.push_back(std::move(p));
        }
    }
    return std::nullopt;
}

std::optional<bad_field> tool_message(const ojson& m, const std::string& where,
                                      canon::message& out) {
    out.who = canon::role::tool;
    canon::part result = make_part(part_kind::tool_result);
    if (auto bad = read(member(m, "tool_call_id"), where + ".tool_call_id", result.id)) {
        return bad;
    }
    if (auto bad = text_content(member(m, "content"), where + ".content", result.content)) {
        return bad;
    }
    out.parts.push_back(std::move(result));
    return std::nullopt;
}

std::optional<bad_field> decode_messages(const ojson& messages, canon::chat_request& out) {
    if (!messages.is_array()) {
        return must_be("messages", "an array of messages");
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const std::string where = at("messages", i);
        const ojson& m = messages[i];
        if (!m.is_object()) {
            return must_be(where, "an object");
        }
        const std::string role = string_member(m, "role");
        const ojson& content = member(m, "content");
        ojson message_cache;
        if (auto bad = read_cache_control(m, where, message_cache)) {
            return bad;
        }
        if (role == "system" || role == "developer") {
            std::vector<canon::part> parts;
            if (auto bad = text_content(content, where + ".content", parts)) {
                return bad;
            }
            if (!message_cache.is_null() && content.is_string() && !parts.empty()) {
                parts.back().cache_control = message_cache;
            }
            for (auto& p : parts) {
                if (!p.text.empty()) { // providers refuse empty system blocks
                    out.system.push_back(std::move(p));
                }
            }
            continue;
        }
        canon::message msg;
        if (role == "user") {
            if (content.is_string()) {
                msg.parts.push_back(make_part(part_kind::text, content.get<std::string>()));
            } else if (content.is_array()) {
                for (std::size_t j = 0; j < content.size(); ++j) {
                    canon::part p;
                    if (auto bad = user_part(content[j], at(where + ".content", j), p)) {
                        return bad;
                    }
                    msg.parts.push_back(std::move(p));
                }
            } else {
                return must_be(where + ".content", "a string or an array of parts");
            }
        } else if (role == "assistant") {
            if (auto bad = assistant_message(m, where, msg)) {
                return bad;
            }
        } else if (role == "tool") {
            if (auto bad = tool_message(m, where, msg)) {
                return bad;
            }
        } else if (role == "function") {
            return refuse(where + ".role", "'" + where +
                                               ".role' function (the legacy function calling) "
                                               "cannot be translated for this provider; use tools");
        } else {
            return refuse(where + ".role", where + ".role '" + role + "' is not supported");
        }
        if (!message_cache.is_null() && content.is_string() && !msg.parts.empty()) {
            msg.parts.back().cache_control = message_cache;
        }
        out.messages.push_back(std::move(msg));
    }
    return std::nullopt;
}

// ---- decode_request: the other fields -------------------------------------------------------

std::optional<bad_field> decode_tools(const ojson& tools, canon::chat_request& out) {
    if (!tools.is_array()) {
        return must_be("tools", "an array");
    }
    for (std::size_t i = 0; i < tools.size(); ++i) {
        const std::string where = at("tools", i);
        const ojson& t = tools[i];
        if (!t.is_object()) {
            return must_be(where, "an object");
        }
        if (string_member(t, "type") != "function") {
            return untranslatable(where + ".type");
        }
        const ojson& fn = member(t, "function");
        if (!fn.is_object()) {
            return must_be(where + ".function", "an object");
        }
        canon::tool tool;
        if (auto bad = read(member(fn, "name"), where + ".function.name", tool.name)) {
            return bad;
        }
        if (const ojson& d = member(fn, "description"); !d.is_null()) {
            if (auto bad = read(d, where + ".function.description", tool.description)) {
                return bad;
            }
        }
        const ojson& parameters = member(fn, "parameters");
        if (!parameters.is_null() && !parameters.is_object()) {
            return must_be(where + ".function.parameters", "an object");
        }
        tool.parameters = codec::object_schema(parameters);
        if (const ojson& s = member(fn, "strict"); !s.is_null()) {
            if (auto bad = read(s, where + ".function.strict", tool.strict)) {
                return bad;
            }
        }
        if (auto bad = read_cache_control(t, where, tool.cache_control)) {
            return bad;
        }
        out.tools.push_back(std::move(tool));
    }
    return std::nullopt;
}

std::optional<bad_field> decode_tool_choice(const ojson& v, canon::chat_request& out) {
    if (v.is_string()) {
        const auto s = v.get<std::string>();
        if (s == "auto") {
            out.tool_choice = canon::tool_mode::automatic;
        } else if (s == "none") {
            out.tool_choice = canon::tool_mode::none;
        } else if (s == "required") {
            out.tool_choice = canon::tool_mode::required;
        } else {
            return refuse("tool_choice", "tool_choice must be auto, none, required or a function");
        }
        return std::nullopt;
    }
    if (string_member(v, "type") != "function") {
        return untranslatable("tool_choice.type");
    }
    out.tool_choice = canon::tool_mode::named;
    return read(member(member(v, "function"), "name"), "tool_choice.function.name", out.tool_name);
}

std::optional<bad_field> decode_stop(const ojson& v, canon::chat_request& out) {
    if (v.is_string()) {
        out.stop.push_back(v.get<std::string>());
        return std::nullopt;
    }
    if (!v.is_array()) {
        return must_be("stop", "a string or an array of strings");
    }
    for (const auto& s : v) {
        if (!s.is_string()) {
            return must_be("stop", "a string or an array of strings");
        }
        out.stop.push_back(s.get<std::string>());
    }
    return std::nullopt;
}

std::optional<bad_field> decode_response_format(const ojson& v, canon::chat_request& out) {
    const std::string type = string_member(v, "type");
    if (type == "text") {
        out.format = canon::response_format::text;
    } else if (type == "json_object") {
        out.format = canon::response_format::json_object;
    } else if (type == "json_schema") {
        const ojson& js = member(v, "json_schema");
        if (!js.is_object()) {
            return must_be("response_format.json_schema", "an object");
        }
        out.format = canon::response_format::json_schema;
        out.schema_name = string_member(js, "name");
        const ojson& schema = member(js, "schema");
        if (!schema.is_null() && !schema.is_object()) {
            return must_be("response_format.json_schema.schema", "an object");
        }
        out.schema = schema.is_object() ? schema : ojson::object();
        if (const ojson& s = member(js, "strict"); !s.is_null()) {
            if (auto bad = read(s, "response_format.json_schema.strict", out.schema_strict)) {
                return bad;
            }
        }
    } else {
        return untranslatable("response_format.type");
    }
    return std::nullopt;
}

std::optional<bad_field> decode_thinking(const ojson& v, canon::chat_request& out) {
    const std::string type = string_member(v, "type");
    if (type == "enabled") {
        return read(member(v, "budget_tokens"), "thinking.budget_tokens", out.reasoning_budget);
    }
    if (type == "disabled") {
        out.reasoning_budget = 0;
        return std::nullopt;
    }
    return refuse("thinking.type", "thinking.type must be enabled or disabled");
}

bool is_hint(std::string_view key) {
    // They steer storage, billing tier, caching or speculation at OpenAI, not what the answer
    // says: another provider may go without them.
    return key == "store" || key == "metadata" || key == "service_tier" || key == "prediction" ||
           key == "safety_identifier" || key == "prompt_cache_key" || key == "verbosity";
}

std::optional<bad_field> decode_field(const std::string& key, const ojson& v,
                                      canon::chat_request& out,
                                      std::optional<std::int64_t>& max_completion) {
    if (key == "model") {
        return read(v, "model", out.model);
    }
    if (key == "messages") {
        return decode_messages(v, out);
    }
    if (key == "tools") {
        return decode_tools(v, out);
    }
    if (key == "tool_choice") {
        return decode_tool_choice(v, out);
    }
    if (key == "parallel_tool_calls") {
        bool b = false;
        auto bad = read(v, key, b);
        out.parallel_tool_calls = b;
        return bad;
    }
    if (key == "max_completion_tokens") {
        return read(v, key, max_completion);
    }
    if (key == "max_tokens") {
        return read(v, key, out.max_tokens);
    }
    if (key == "temperature") {
        return read(v, key, out.temperature);
    }
    if (key == "top_p") {
        return read(v, key, out.top_p);
    }
    if (key == "top_k") {
        return read(v, key, out.top_k);
    }
    if (key == "stop") {
        return decode_stop(v, out);
    }
    if (key == "presence_penalty") {
        return read(v, key, out.presence_penalty);
    }
    if (key == "frequency_penalty") {
        return read(v, key, out.frequency_penalty);
    }
    if (key == "seed") {
        return read(v, key, out.seed);
    }
    if (key == "reasoning_effort") {
        return read(v, key, out.reasoning_effort);
    }
    if (key == "user") {
        return read(v, key, out.user);
    }
    if (key == "stream") {
        return read(v, key, out.stream);
    }
    if (key == "stream_options") {
        if (!v.is_object()) {
            return must_be(key, "an object");
        }
        const ojson& iu = member(v, "include_usage");
        return iu.is_null() ? std::nullopt
                            : read(iu, "stream_options.include_usage", out.include_usage);
    }
    if (key == "response_format") {
        return decode_response_format(v, out);
    }
    if (key == "thinking") {
        return decode_thinking(v, out);
    }
    if (key == "n") {
        return integer_of(v) == 1
                   ? std::nullopt
                   : std::optional(refuse("n", "'n' other than 1 cannot be translated for this "
                                               "provider: it answers with one choice"));
    }
    if (key == "logprobs") {
        return v == false ? std::nullopt : std::optional(untranslatable(key));
    }
    if (key == "logit_bias") {
        return v.is_object() && v.empty() ? std::nullopt : std::optional(untranslatable(key));
    }
    if (key == "modalities") {
        return v == ojson::array({"text"}) ? std::nullopt : std::optional(untranslatable(key));
    }
    if (key == "top_logprobs" || key == "audio" || key == "web_search_options" ||
        key == "functions" || key == "function_call") {
        return untranslatable(key);
    }
    if (is_hint(key)) {
        return std::nullopt;
    }
    return refuse(key, "'" + key +
                           "' is not a known field and cannot be translated for this "
                           "provider");
}

// ---- encode_answer and the stream encoder ---------------------------------------------------

std::string_view finish_name(canon::finish reason) {
    switch (reason) {
    case canon::finish::length:
        return "length";
    case canon::finish::tool_calls:
        return "tool_calls";
    case canon::finish::content_filter:
        return "content_filter";
    case canon::finish::none:
    case canon::finish::stop:
    case canon::finish::stop_sequence:
    case canon::finish::pause:
        return "stop";
    }
    return "stop";
}

canon::finish finish_of(std::string_view name) {
    if (name == "length") {
        return canon::finish::length;
    }
    if (name == "tool_calls" || name == "function_call") {
        return canon::finish::tool_calls;
    }
    if (name == "content_filter") {
        return canon::finish::content_filter;
    }
    return canon::finish::stop;
}

ojson usage_json(const usage_counts& u) {
    ojson details{{"cached_tokens", u.cached}};
    if (u.cache_write_5m + u.cache_write_1h > 0) {
        details["cache_creation_tokens"] = u.cache_write_5m + u.cache_write_1h;
    }
    return ojson{{"prompt_tokens", u.prompt},
                 {"completion_tokens", u.completion},
                 {"total_tokens", u.prompt + u.completion},
                 {"prompt_tokens_details", std::move(details)},
                 {"completion_tokens_details", {{"reasoning_tokens", u.reasoning}}}};
}

class chunk_encoder final : public canon::stream_encoder {
public:
    explicit chunk_encoder(bool include_usage) : include_usage_(include_usage) {}

    void write(const canon::event& e, std::string& out) override {
        if (e.kind == canon::event_kind::start) {
            begin(out, e.id, e.name);
            return;
        }
        if (e.kind == canon::event_kind::usage) {
            usage_ = e.usage;
            return;
        }
        begin(out, {}, {});
        switch (e.kind) {
        case canon::event_kind::text:
            delta(out, "content", e.text);
            break;
        case canon::event_kind::reasoning:
            delta(out, "reasoning_content", e.text);
            break;
        case canon::event_kind::signature:
            open(out);
            out.append(R"({"thinking_blocks":[{"type":"thinking","thinking":"","signature":)");
            detail::append_json_string(out, e.text);
            out.append("}]}");
            close(out, {});
            break;
        case canon::event_kind::redacted_reasoning:
            open(out);
            out.append(R"({"thinking_blocks":[{"type":"redacted_thinking","data":)");
            detail::append_json_string(out, e.text);
            out.append("}]}");
            close(out, {});
            break;
        case canon::event_kind::tool_call:
            open(out);
            out.append(R"({"tool_calls":[{"index":)");
            out.append(std::to_string(e.index));
            out.append(R"(,"id":)");
            detail::append_json_string(out, e.id);
            out.append(R"(,"type":"function","function":{"name":)");
            detail::append_json_string(out, e.name);
            out.append(R"(,"arguments":""}}]})");
            close(out, {});
            break;
        case canon::event_kind::tool_arguments:
            open(out);
            out.append(R"({"tool_calls":[{"index":)");
            out.append(std::to_string(e.index));
            out.append(R"(,"function":{"arguments":)");
            detail::append_json_string(out, e.text);
            out.append("}}]}");
            close(out, {});
            break;
        case canon::event_kind::finish:
            finish_chunk(out, e.reason);
            break;
        case canon::event_kind::start:
        case canon::event_kind::usage:
            break;
        }
    }

    void finish(std::string& out) override {
        begin(out, {}, {});
        if (!finished_) {
            finish_chunk(out, canon::finish::stop);
        }
        if (include_usage_) {
            out.append(head_);
            out.append(R"("choices":[],"usage":)");
            out.append(dump(usage_json(usage_)));
            out.append("}\n\n");
        }
        out.append("data: [DONE]\n\n");
    }

    void fail(std::string& out, std::string_view message, std::string_view code) override {
        append_error_event(out, message, "upstream_error", code);
    }

private:
    // The role chunk, once: for the start event, or before whatever came first without one.
    void begin(std::string& out, std::string_view id, std::string_view model) {
        if (started_) {
            return;
        }
        started_ = true;
        head_ = "data: {\"id\":";
        detail::append_json_string(head_, completion_id(id));
        head_.append(R"(,"object":"chat.completion.chunk","created":)");
        head_.append(std::to_string(now_seconds()));
        head_.append(R"(,"model":)");
        detail::append_json_string(head_, model);
        head_.push_back(',');
        open(out);
        out.append(R"({"role":"assistant","content":""})");
        close(out, {});
    }

    void open(std::string& out) const {
        out.append(head_);
        out.append(R"("choices":[{"index":0,"delta":)");
    }

    static void close(std::string& out, std::string_view finish_reason) {
        out.append(R"(,"finish_reason":)");
        if (finish_reason.empty()) {
            out.append("null");
        } else {
            detail::append_json_string(out, finish_reason);
        }
        out.append("}]}\n\n");
    }

    void delta(std::string& out, std::string_view field, std::string_view text) const {
        open(out);
        out.append("{\"");
        out.append(field);
        out.append("\":");
        detail::append_json_string(out, text);
        out.push_back('}');
        close(out, {});
    }

    void finish_chunk(std::string& out, canon::finish reason) {
        finished_ = true;
        open(out);
        out.append("{}");
        close(out, finish_name(reason));
    }

    bool include_usage_;
    bool started_ = false;
    bool finished_ = false;
    std::string head_; // `data: {"id":...,"object":...,"created":...,"model":...,`
    usage_counts usage_;
};

// ---- decode_answer and the stream decoder ---------------------------------------------------

// The counts of a usage object, read by the one mapping there is (read_answer's).
usage_counts usage_of(const ojson& usage) {
    answer_facts facts;
    if (!usage.is_object() || !read_answer(dump(ojson{{"usage", usage}}), facts)) {
        return {};
    }
    return facts.usage;
}

// Appends reasoning / redacted_reasoning parts for LiteLLM-style thinking_blocks.
void thinking_parts(const ojson& blocks, std::vector<canon::part>& out) {
    for (const auto& b : blocks) {
        const std::string type = string_member(b, "type");
        if (type == "thinking") {
            out.push_back(
                reasoning_part_of(string_member(b, "thinking"), string_member(b, "signature")));
        } else if (type == "redacted_thinking") {
            canon::part p = make_part(part_kind::redacted_reasoning);
            p.data = string_member(b, "data");
            out.push_back(std::move(p));
        }
    }
}

std::string arguments_of(const ojson& fn) {
    const ojson& args = member(fn, "arguments");
    if (args.is_string()) {
        return args.get<std::string>();
    }
    return args.is_null() ? std::string() : dump(args);
}

const ojson& first_choice(const ojson& body) {
    static const ojson null;
    const ojson& choices = member(body, "choices");
    return choices.is_array() && !choices.empty() ? choices.front() : null;
}

class chunk_decoder final : public canon::stream_decoder {
public:
    std::optional<upstream_error> feed(std::string_view raw,
                                       std::vector<canon::event>& out) override {
        const sse_event event = parse_event(raw);
        if (event.data.empty()) {
            return std::nullopt; // a comment or keep-alive (": OPENROUTER PROCESSING")
        }
        if (event.data == "[DONE]") {
            done_ = true;
            return std::nullopt;
        }
        ojson chunk = ojson::parse(event.data, nullptr, false);
        if (event.name == "error" || (chunk.is_object() && chunk.contains("error"))) {
            return read_error(200, event.data);
        }
        if (!chunk.is_object()) {
            return upstream_error{"the provider sent an invalid stream event", "upstream_error",
                                  "invalid_stream", 0};
        }
        normalise_chat(chunk);
        if (!started_) {
            started_ = true;
            canon::event start = make_event(canon::event_kind::start);
            start.id = string_member(chunk, "id");
            start.name = string_member(chunk, "model");
            out.push_back(std::move(start));
        }
        const ojson& choice = first_choice(chunk);
        const ojson& delta = member(choice, "delta");
        const ojson& reasoning = member(delta, "reasoning_content");
        if (reasoning.is_string() && !reasoning.get<std::string>().empty()) {
            out.push_back(make_event(canon::event_kind::reasoning, reasoning.get<std::string>()));
        }
        if (const ojson& blocks = member(delta, "thinking_blocks"); blocks.is_array()) {
            // reasoning_content carries the same text when both come: only signatures then.
            thinking_events(blocks, reasoning.is_string(), out);
        }
        if (const ojson& text = member(delta, "content");
            text.is_string() && !text.get<std::string>().empty()) {
            out.push_back(make_event(canon::event_kind::text, text.get<std::string>()));
        }
        if (const ojson& calls = member(delta, "tool_calls"); calls.is_array()) {
            for (const auto& call : calls) {
                tool_call_events(call, out);
            }
        }
        if (const ojson& reason = member(choice, "finish_reason");
            reason.is_string() && !reason.get<std::string>().empty() && !finished_) {
            // OpenRouter repeats the finish chunk to carry the usage: one finish event.
            finished_ = true;
            canon::event finish = make_event(canon::event_kind::finish);
            finish.reason = finish_of(reason.get<std::string>());
            out.push_back(std::move(finish));
        }
        if (const ojson& usage = member(chunk, "usage"); usage.is_object()) {
            canon::event counts = make_event(canon::event_kind::usage);
            counts.usage = usage_of(usage);
            out.push_back(std::move(counts));
        }
        return std::nullopt;
    }

    [[nodiscard]] bool done() const noexcept override { return done_; }

private:
    struct call {
        std::int64_t index; // the provider's; -1 when it gave none
        std::string id;
    };

    static void thinking_events(const ojson& blocks, bool text_given,
                                std::vector<canon::event>& out) {
        for (const auto& b : blocks) {
            const std::string type = string_member(b, "type");
            if (type == "thinking") {
                const std::string text = string_member(b, "thinking");
                if (!text.empty() && !text_given) {
                    out.push_back(make_event(canon::event_kind::reasoning, text));
                }
                if (std::string sig = string_member(b, "signature"); !sig.empty()) {
                    out.push_back(make_event(canon::event_kind::signature, std::move(sig)));
                }
            } else if (type == "redacted_thinking") {
                out.push_back(
                    make_event(canon::event_kind::redacted_reasoning, string_member(b, "data")));
            }
        }
    }

    // The ordinal of the call a tool_calls delta continues, or a new one: a new provider index,
    // or a new id at a known index (some compatible servers number every call 0).
    void tool_call_events(const ojson& delta, std::vector<canon::event>& out) {
        if (!delta.is_object()) {
            return;
        }
        const std::int64_t index = integer_of(member(delta, "index")).value_or(-1);
        const std::string id = string_member(delta, "id");
        const ojson& fn = member(delta, "function");
        std::optional<std::size_t> ordinal;
        for (std::size_t k = calls_.size(); k-- > 0;) {
            const bool same_index = index >= 0 && calls_[k].index == index;
            const bool same_id = !id.empty() && calls_[k].id == id;
            if (same_id || (same_index && (id.empty() || calls_[k].id.empty()))) {
                ordinal = k;
                break;
            }
        }
        if (!ordinal && index < 0 && id.empty() && !calls_.empty()) {
            ordinal = calls_.size() - 1; // neither index nor id: the call under way
        }
        if (!ordinal) {
            ordinal = calls_.size();
            calls_.push_back(call{index, id});
            canon::event begin = make_event(canon::event_kind::tool_call);
            begin.id = id;
            begin.name = string_member(fn, "name");
            begin.index = static_cast<int>(*ordinal);
            out.push_back(std::move(begin));
        }
        if (std::string args = arguments_of(fn); !args.empty()) {
            canon::event more = make_event(canon::event_kind::tool_arguments, std::move(args));
            more.index = static_cast<int>(*ordinal);
            out.push_back(std::move(more));
        }
    }

    std::vector<call> calls_;
    bool started_ = false;
    bool finished_ = false;
    bool done_ = false;
};

// ---- encode_request -------------------------------------------------------------------------

std::string joined_text(const std::vector<canon::part>& parts, std::string_view separator) {
    std::string out;
    bool first = true;
    for (const auto& p : parts) {
        if (p.kind == part_kind::text) {
            if (!first) {
                out.append(separator);
            }
            out.append(p.text);
            first = false;
        }
    }
    return out;
}

std::optional<bad_field> user_content(const canon::message& m, const std::string& where,
                                      ojson& out) {
    if (m.parts.size() == 1 && m.parts.front().kind == part_kind::text) {
        out = m.parts.front().text;
        return std::nullopt;
    }
    out = ojson::array();
    for (std::size_t j = 0; j < m.parts.size(); ++j) {
        const canon::part& p = m.parts[j];
        const std::string part_at = at(where + ".content", j);
        switch (p.kind) {
        case part_kind::text:
            out.push_back({{"type", "text"}, {"text", p.text}});
            break;
        case part_kind::image:
            out.push_back(
                {{"type", "image_url"},
                 {"image_url",
                  {{"url", p.url.empty() ? codec::make_data_url(p.media_type, p.data) : p.url}}}});
            break;
        case part_kind::document:
            if (!p.data.empty() && p.media_type == "application/pdf") {
                out.push_back({{"type", "file"},
                               {"file",
                                {{"filename", p.title.empty() ? "document.pdf" : p.title},
                                 {"file_data", codec::make_data_url(p.media_type, p.data)}}}});
            } else if (p.data.empty() && p.url.empty()) {
                out.push_back({{"type", "text"}, {"text", p.text}});
            } else {
                return refuse(part_at + ".source",
                              "'" + part_at +
                                  ".source' cannot be translated for this provider: only "
                                  "base64 PDF and plain-text documents can be sent");
            }
            break;
        case part_kind::reasoning:
        case part_kind::redacted_reasoning:
        case part_kind::tool_call:
        case part_kind::tool_result:
            return untranslatable(part_at);
        }
    }
    return std::nullopt;
}

std::optional<bad_field> tool_result_message(const canon::part& result, const std::string& where,
                                             ojson& out) {
    std::string text;
    for (std::size_t k = 0; k < result.content.size(); ++k) {
        const canon::part& p = result.content[k];
        if (p.kind != part_kind::text) {
            return refuse(where + ".content",
                          "'" + where +
                              ".content' cannot be translated for this provider: tool results "
                              "hold text only");
        }
        text.append(p.text);
    }
    out = {{"role", "tool"}, {"tool_call_id", result.id}, {"content", std::move(text)}};
    return std::nullopt;
}

ojson tool_call_json(const canon::part& call) {
    return {{"id", call.id},
            {"type", "function"},
            {"function",
             {{"name", call.name}, {"arguments", call.arguments.empty() ? "{}" : call.arguments}}}};
}

ojson assistant_json(const canon::message& m) {
    ojson out{{"role", "assistant"}};
    ojson calls = ojson::array();
    for (const auto& p : m.parts) {
        if (p.kind == part_kind::tool_call) {
            calls.push_back(tool_call_json(p));
        }
    }
    std::string text = joined_text(m.parts, "");
    if (!text.empty()) {
        out["content"] = std::move(text);
    } else {
        // null is what the family expects beside tool calls; without them it wants a string
        out["content"] = calls.empty() ? ojson("") : ojson(nullptr);
    }
    if (!calls.empty()) {
        out["tool_calls"] = std::move(calls);
    }
    return out;
}

std::optional<bad_field> encode_messages(const canon::chat_request& request, ojson& messages) {
    if (!request.system.empty()) {
        // One string: every provider of the family takes it, not all take an array here.
        messages.push_back({{"role", "system"}, {"content", joined_text(request.system, "\n\n")}});
    }
    for (std::size_t i = 0; i < request.messages.size(); ++i) {
        const canon::message& m = request.messages[i];
        const std::string where = at("messages", i);
        switch (m.who) {
        case canon::role::user: {
            ojson content;
            if (auto bad = user_content(m, where, content)) {
                return bad;
            }
            messages.push_back({{"role", "user"}, {"content", std::move(content)}});
            break;
        }
        case canon::role::assistant:
            messages.push_back(assistant_json(m));
            break;
        case canon::role::tool:
            for (std::size_t j = 0; j < m.parts.size(); ++j) {
                if (m.parts[j].kind != part_kind::tool_result) {
                    return untranslatable(at(where + ".content", j));
                }
                ojson message;
                if (auto bad =
                        tool_result_message(m.parts[j], at(where + ".content", j), message)) {
                    return bad;
                }
                messages.push_back(std::move(message));
            }
            break;
        }
    }
    return std::nullopt;
}

std::string effort_for(std::int64_t budget) {
    if (budget <= 0) {
        return {};
    }
    if (budget <= 2048) {
        return "low";
    }
    return budget <= 16384 ? "medium" : "high";
}

} // namespace

// ---- the declarations -----------------------------------------------------------------------

std::optional<bad_field> decode_request(std::string_view body, canon::chat_request& out) {
    const ojson doc = ojson::parse(body, nullptr, false);
    if (doc.is_discarded()) {
        return bad_field{"", "the request body is not valid JSON", "invalid_json"};
    }
    if (!doc.is_object()) {
        return refuse("", "the request body must be a JSON object");
    }
    std::optional<std::int64_t> max_completion;
    for (const auto& [key, value] : doc.items()) {
        if (value.is_null()) {
            continue; // null is how SDKs spell "not given"
        }
        if (auto bad = decode_field(key, value, out, max_completion)) {
            return bad;
        }
    }
    if (max_completion) {
        out.max_tokens = max_completion;
    }
    if (out.model.empty()) {
        return refuse("model", "model is required and must be a non-empty string");
    }
    return std::nullopt;
}

std::string encode_answer(const canon::chat_answer& answer) {
    std::string text;
    std::string reasoning;
    bool blocks_needed = false;
    ojson blocks = ojson::array();
    ojson calls = ojson::array();
    for (const auto& p : answer.parts) {
        switch (p.kind) {
        case part_kind::text:
            text.append(p.text);
            break;
        case part_kind::reasoning:
            reasoning.append(p.text);
            blocks.push_back(
                {{"type", "thinking"}, {"thinking", p.text}, {"signature", p.signature}});
            blocks_needed = blocks_needed || !p.signature.empty();
            break;
        case part_kind::redacted_reasoning:
            blocks.push_back({{"type", "redacted_thinking"}, {"data", p.data}});
            blocks_needed = true;
            break;
        case part_kind::tool_call:
            calls.push_back(tool_call_json(p));
            break;
        case part_kind::image:
        case part_kind::document:
        case part_kind::tool_result:
            break; // not something an answer of this wire can hold
        }
    }
    ojson message{{"role", "assistant"}};
    message["content"] = text.empty() ? ojson(nullptr) : ojson(std::move(text));
    if (!reasoning.empty()) {
        message["reasoning_content"] = std::move(reasoning);
    }
    if (blocks_needed) {
        message["thinking_blocks"] = std::move(blocks);
    }
    if (!calls.empty()) {
        message["tool_calls"] = std::move(calls);
    }
    ojson out{{"id", completion_id(answer.id)},
              {"object", "chat.completion"},
              {"created", answer.created != 0 ? answer.created : now_seconds()},
              {"model", answer.model}};
    out["choices"] = ojson::array({ojson{{"index", 0},
                                         {"message", std::move(message)},
                                         {"finish_reason", finish_name(answer.reason)}}});
    if (answer.usage.reported) {
        out["usage"] = usage_json(answer.usage);
    }
    return dump(out);
}

std::unique_ptr<canon::stream_encoder> make_stream_encoder(bool include_usage) {
    return std::make_unique<chunk_encoder>(include_usage);
}

std::optional<bad_field> encode_request(const canon::chat_request& request, std::string_view model,
                                        std::string& out) {
    if (request.top_k) {
        return untranslatable("top_k");
    }
    ojson body{{"model", std::string(model)}};
    ojson messages = ojson::array();
    if (auto bad = encode_messages(request, messages)) {
        return bad;
    }
    body["messages"] = std::move(messages);
    if (!request.tools.empty()) {
        ojson tools = ojson::array();
        for (const auto& t : request.tools) {
            ojson fn{{"name", t.name}};
            if (!t.description.empty()) {
                fn["description"] = t.description;
            }
            fn["parameters"] = codec::object_schema(t.parameters);
            if (t.strict) {
                fn["strict"] = true;
            }
            tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
        }
        body["tools"] = std::move(tools);
    }
    switch (request.tool_choice) {
    case canon::tool_mode::unset:
        break;
    case canon::tool_mode::automatic:
        body["tool_choice"] = "auto";
        break;
    case canon::tool_mode::none:
        body["tool_choice"] = "none";
        break;
    case canon::tool_mode::required:
        body["tool_choice"] = "required";
        break;
    case canon::tool_mode::named:
        body["tool_choice"] = {{"type", "function"}, {"function", {{"name", request.tool_name}}}};
        break;
    }
    codec::set_if(body, "parallel_tool_calls", request.parallel_tool_calls);
    // max_tokens rather than max_completion_tokens: the whole family takes it.
    codec::set_if(body, "max_tokens", request.max_tokens);
    codec::set_if(body, "temperature", request.temperature);
    codec::set_if(body, "top_p", request.top_p);
    if (!request.stop.empty()) {
        body["stop"] = request.stop;
    }
    codec::set_if(body, "presence_penalty", request.presence_penalty);
    codec::set_if(body, "frequency_penalty", request.frequency_penalty);
    codec::set_if(body, "seed", request.seed);
    if (!request.user.empty()) {
        body["user"] = request.user;
    }
    const std::string effort = !request.reasoning_effort.empty()
                                   ? request.reasoning_effort
                                   : effort_for(request.reasoning_budget.value_or(0));
    if (!effort.empty()) {
        body["reasoning_effort"] = effort;
    }
    switch (request.format) {
    case canon::response_format::text:
        break;
    case canon::response_format::json_object:
        body["response_format"] = {{"type", "json_object"}};
        break;
    case canon::response_format::json_schema: {
        ojson schema{{"name", request.schema_name.empty() ? "response" : request.schema_name},
                     {"schema", request.schema.is_object() ? request.schema : ojson::object()}};
        if (request.schema_strict) {
            schema["strict"] = true;
        }
        body["response_format"] = {{"type", "json_schema"}, {"json_schema", std::move(schema)}};
        break;
    }
    }
    if (request.stream) {
        body["stream"] = true;
        body["stream_options"] = {{"include_usage", true}};
    }
    out = dump(body);
    return std::nullopt;
}

bool decode_answer(std::string_view body, canon::chat_answer& out) {
    ojson doc = ojson::parse(body, nullptr, false);
    if (!doc.is_object()) {
        return false;
    }
    normalise_chat(doc);
    const ojson& choice = first_choice(doc);
    const ojson& message = member(choice, "message");
    if (!message.is_object()) {
        return false;
    }
    out.id = string_member(doc, "id");
    out.model = string_member(doc, "model");
    out.created = integer_of(member(doc, "created")).value_or(0);
    if (const ojson& blocks = member(message, "thinking_blocks");
        blocks.is_array() && !blocks.empty()) {
        thinking_parts(blocks, out.parts);
    } else if (const ojson& r = member(message, "reasoning_content");
               r.is_string() && !r.get<std::string>().empty()) {
        out.parts.push_back(reasoning_part_of(r.get<std::string>(), {}));
    }
    if (const ojson& c = member(message, "content");
        c.is_string() && !c.get<std::string>().empty()) {
        out.parts.push_back(make_part(part_kind::text, c.get<std::string>()));
    }
    if (const ojson& calls = member(message, "tool_calls"); calls.is_array()) {
        for (const auto& call : calls) {
            const ojson& fn = member(call, "function");
            std::string args = arguments_of(fn);
            canon::part p = make_part(part_kind::tool_call);
            p.id = string_member(call, "id");
            p.name = string_member(fn, "name");
            p.arguments = args.empty() ? "{}" : std::move(args);
            out.parts.push_back(std::move(p));
        }
    }
    const ojson& reason = member(choice, "finish_reason");
    out.reason = reason.is_string() ? finish_of(reason.get<std::string>()) : canon::finish::none;
    out.usage = usage_of(member(doc, "usage"));
    return true;
}

std::unique_ptr<canon::stream_decoder> make_stream_decoder() {
    return std::make_unique<chunk_decoder>();
}

} // namespace aignehub::gateway::openai
