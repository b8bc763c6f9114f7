#include "gateway/aigne_wire.hpp"

#include "core/hex.hpp"
#include "gateway/codec_util.hpp"

#include <array>

namespace aignehub::gateway::aigne {

namespace {

using canon::part_kind;

constexpr std::array<std::string_view, 2> prefixes{"aignehub/", "aignehub:"};

const ojson& input_of(const ojson& body) {
    return codec::member(body, "input");
}

// A cache breakpoint as the framework writes it ({"type":"ephemeral","ttl":"1h"}) in the
// canonical (Anthropic) spelling.
ojson cache_control_of(const ojson& v) {
    if (!v.is_object()) {
        return nullptr;
    }
    ojson out = {{"type", "ephemeral"}};
    if (const auto& ttl = codec::member(v, "ttl"); ttl.is_string()) {
        out["ttl"] = ttl;
    }
    return out;
}

// A url or file part: an image when its media type (or data URL) says so, else a document.
std::optional<bad_field> file_part(const ojson& p, const std::string& at, canon::part& out) {
    const std::string type = codec::string_member(p, "type");
    std::string media = codec::string_member(p, "mimeType");
    out.title = codec::string_member(p, "filename");
    if (type == "url") {
        const std::string url = codec::string_member(p, "url");
        if (url.empty()) {
            return codec::refuse(at + ".url", "a url part needs a url");
        }
        if (auto data = codec::parse_data_url(url)) {
            out.data = std::move(data->data);
            if (media.empty()) {
                media = std::move(data->media_type);
            }
        } else {
            out.url = url;
        }
    } else if (type == "file") {
        out.data = codec::string_member(p, "data");
        if (out.data.empty()) {
            return codec::refuse(at + ".data", "a file part needs its data (base64)");
        }
    } else if (type == "local") {
        return codec::refuse(at + ".type", "a local file cannot be read by the hub; send it as "
                                           "type \"file\" (base64) or \"url\"");
    } else {
        return codec::refuse(at + ".type", "unknown content part type '" + type + "'");
    }
    out.media_type = media;
    out.kind =
        media.empty() || media.starts_with("image/") ? part_kind::image : part_kind::document;
    return std::nullopt;
}

std::optional<bad_field> content_parts(const ojson& content, const std::string& at, bool text_only,
                                       std::vector<canon::part>& out) {
    if (content.is_null()) {
        return std::nullopt;
    }
    if (content.is_string()) {
        if (!content.get_ref<const std::string&>().empty()) {
            out.push_back(codec::make_part(part_kind::text, content.get<std::string>()));
        }
        return std::nullopt;
    }
    if (!content.is_array()) {
        return codec::refuse(at, "content must be a string or an array of parts");
    }
    for (std::size_t j = 0; j < content.size(); ++j) {
        const ojson& p = content[j];
        const std::string here = at + "[" + std::to_string(j) + "]";
        if (!p.is_object()) {
            return codec::refuse(here, "a content part must be an object");
        }
        if (codec::string_member(p, "type") == "text") {
            canon::part text = codec::make_part(part_kind::text, codec::string_member(p, "text"));
            text.cache_control = cache_control_of(codec::member(p, "cacheControl"));
            out.push_back(std::move(text));
            continue;
        }
        if (text_only) {
            return codec::refuse(here + ".type", "only text parts are allowed here");
        }
        canon::part file;
        if (auto bad = file_part(p, here, file)) {
            return bad;
        }
        out.push_back(std::move(file));
    }
    return std::nullopt;
}

std::optional<bad_field> tool_calls(const ojson& calls, const std::string& at,
                                    std::vector<canon::part>& out) {
    if (calls.is_null()) {
        return std::nullopt;
    }
    if (!calls.is_array()) {
        return codec::refuse(at, "toolCalls must be an array");
    }
    for (std::size_t j = 0; j < calls.size(); ++j) {
        const ojson& c = calls[j];
        const std::string here = at + "[" + std::to_string(j) + "]";
        const ojson& fn = codec::member(c, "function");
        canon::part call = codec::make_part(part_kind::tool_call);
        call.id = codec::string_member(c, "id");
        call.name = codec::string_member(fn, "name");
        if (call.id.empty() || call.name.empty()) {
            return codec::refuse(here, "a tool call needs an id and function.name");
        }
        const ojson& args = codec::member(fn, "arguments");
        if (args.is_null()) {
            call.arguments = "{}";
        } else if (args.is_object()) {
            call.arguments = dump(args);
        } else if (args.is_string()) {
            call.arguments = args.get<std::string>(); // a client that sent it as JSON text
        } else {
            return codec::refuse(here + ".function.arguments", "arguments must be an object");
        }
        out.push_back(std::move(call));
    }
    return std::nullopt;
}

std::optional<bad_field> messages(const ojson& list, canon::chat_request& out) {
    if (!list.is_array() || list.empty()) {
        return codec::refuse("input.messages", "input.messages must be a non-empty array");
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
        const ojson& m = list[i];
        const std::string at = "input.messages[" + std::to_string(i) + "]";
        if (!m.is_object()) {
            return codec::refuse(at, "a message must be an object");
        }
        const std::string role = codec::string_member(m, "role");
        const ojson& content = codec::member(m, "content");
        std::vector<canon::part> parts;
        if (role == "system") {
            if (auto bad = content_parts(content, at + ".content", true, parts)) {
                return bad;
            }
        } else if (role == "user") {
            if (auto bad = content_parts(content, at + ".content", false, parts)) {
                return bad;
            }
        } else if (role == "agent") {
            if (auto bad = content_parts(content, at + ".content", true, parts)) {
                return bad;
            }
            if (auto bad = tool_calls(codec::member(m, "toolCalls"), at + ".toolCalls", parts)) {
                return bad;
            }
        } else if (role == "tool") {
            canon::part result = codec::make_part(part_kind::tool_result);
            result.id = codec::string_member(m, "toolCallId");
            if (result.id.empty()) {
                return codec::refuse(at + ".toolCallId", "a tool message needs toolCallId");
            }
            if (auto bad = content_parts(content, at + ".content", false, result.content)) {
                return bad;
            }
            parts.push_back(std::move(result));
        } else {
            return codec::refuse(at + ".role", "role must be system, user, agent or tool");
        }
        // A breakpoint on the message marks its last part.
        if (const ojson& cache = codec::member(m, "cacheControl"); cache.is_object()) {
            if (!parts.empty()) {
                parts.back().cache_control = cache_control_of(cache);
            }
        }
        if (role == "system") {
            out.system.insert(out.system.end(), parts.begin(), parts.end());
            continue;
        }
        if (parts.empty()) {
            continue;
        }
        canon::message message;
        message.who = role == "user"    ? canon::role::user
                      : role == "agent" ? canon::role::assistant
                                        : canon::role::tool;
        message.parts = std::move(parts);
        out.messages.push_back(std::move(message));
    }
    return std::nullopt;
}

std::optional<bad_field> tools(const ojson& input, canon::chat_request& out) {
    const ojson& list = codec::member(input, "tools");
    if (!list.is_null() && !list.is_array()) {
        return codec::refuse("input.tools", "tools must be an array");
    }
    for (std::size_t i = 0; list.is_array() && i < list.size(); ++i) {
        const ojson& t = list[i];
        const ojson& fn = codec::member(t, "function");
        canon::tool tool;
        tool.name = codec::string_member(fn, "name");
        if (tool.name.empty()) {
            return codec::refuse("input.tools[" + std::to_string(i) + "].function.name",
                                 "a tool needs a name");
        }
        tool.description = codec::string_member(fn, "description");
        tool.parameters = codec::object_schema(codec::member(fn, "parameters"));
        tool.cache_control = cache_control_of(codec::member(t, "cacheControl"));
        out.tools.push_back(std::move(tool));
    }
    const ojson& choice = codec::member(input, "toolChoice");
    if (choice.is_string()) {
        const auto& c = choice.get_ref<const std::string&>();
        if (c == "auto") {
            out.tool_choice = canon::tool_mode::automatic;
        } else if (c == "none") {
            out.tool_choice = canon::tool_mode::none;
        } else if (c == "required") {
            out.tool_choice = canon::tool_mode::required;
        } else {
            return codec::refuse("input.toolChoice", "toolChoice must be auto, none, required "
                                                     "or a tool");
        }
    } else if (choice.is_object()) {
        out.tool_choice = canon::tool_mode::named;
        out.tool_name = codec::string_member(codec::member(choice, "function"), "name");
        if (out.tool_name.empty()) {
            return codec::refuse("input.toolChoice.function.name", "a tool choice needs a name");
        }
    } else if (!choice.is_null()) {
        return codec::refuse("input.toolChoice", "toolChoice must be a string or a tool");
    }
    return std::nullopt;
}

std::optional<bad_field> response_format(const ojson& input, canon::chat_request& out) {
    const ojson& format = codec::member(input, "responseFormat");
    if (format.is_null()) {
        return std::nullopt;
    }
    const std::string type = codec::string_member(format, "type");
    if (type == "text") {
        return std::nullopt;
    }
    if (type == "json_object") {
        out.format = canon::response_format::json_object;
        return std::nullopt;
    }
    if (type != "json_schema") {
        return codec::refuse("input.responseFormat.type",
                             "responseFormat.type must be text or json_schema");
    }
    const ojson& spec = codec::member(format, "jsonSchema");
    if (!codec::member(spec, "schema").is_object()) {
        return codec::refuse("input.responseFormat.jsonSchema.schema",
                             "a json_schema response format needs jsonSchema.schema");
    }
    out.format = canon::response_format::json_schema;
    out.schema = codec::member(spec, "schema");
    out.schema_name = codec::string_member(spec, "name");
    out.schema_strict = codec::member(spec, "strict").is_boolean() && spec["strict"].get<bool>();
    return std::nullopt;
}

std::optional<double> number_of(const ojson& options, std::string_view key) {
    const ojson& v = codec::member(options, key);
    return v.is_number() ? std::optional(v.get<double>()) : std::nullopt;
}

std::optional<bad_field> model_options(const ojson& options, canon::chat_request& out) {
    out.temperature = number_of(options, "temperature");
    out.top_p = number_of(options, "topP");
    out.frequency_penalty = number_of(options, "frequencyPenalty");
    out.presence_penalty = number_of(options, "presencePenalty");
    if (const ojson& v = codec::member(options, "parallelToolCalls"); v.is_boolean()) {
        out.parallel_tool_calls = v.get<bool>();
    }
    if (const auto max = codec::integer_of(codec::member(options, "maxTokens"))) {
        out.max_tokens = *max;
    }
    const ojson& effort = codec::member(options, "reasoningEffort");
    if (effort.is_string()) {
        out.reasoning_effort = effort.get<std::string>();
    } else if (const auto budget = codec::integer_of(effort)) {
        out.reasoning_budget = *budget;
    } else if (!effort.is_null()) {
        return codec::refuse("input.modelOptions.reasoningEffort",
                             "reasoningEffort must be minimal, low, medium, high or a number");
    }
    const ojson& modalities = codec::member(options, "modalities");
    if (modalities.is_array()) {
        for (const ojson& m : modalities) {
            if (!m.is_string() || m.get<std::string>() != "text") {
                return codec::refuse("input.modelOptions.modalities",
                                     "only text output is served on /api/v2/chat");
            }
        }
    }
    return std::nullopt;
}

void set_usage(ojson& out, const usage_counts& usage, const canon::answer_context& ctx) {
    const std::int64_t writes = usage.cache_write_5m + usage.cache_write_1h;
    out["usage"] = {
        {"inputTokens", std::max<std::int64_t>(0, usage.prompt - usage.cached - writes)},
        {"outputTokens", usage.completion},
        {"cacheCreationInputTokens", writes},
        {"cacheReadInputTokens", usage.cached},
        {"aigneHubCredits", 0},
        {"modelCallId", ctx.request_id},
    };
}

std::string with_provider(const canon::answer_context& ctx) {
    return std::string(ctx.provider) + "/" + std::string(ctx.model);
}

ojson arguments_object(const std::string& arguments) {
    ojson parsed = ojson::parse(arguments, nullptr, false);
    return parsed.is_object() ? parsed : ojson::object();
}

ojson tool_call_json(const canon::part& call) {
    return {{"id", call.id},
            {"type", "function"},
            {"function", {{"name", call.name}, {"arguments", arguments_object(call.arguments)}}}};
}

void frame(std::string& out, const ojson& value) {
    out.append("data: ").append(dump(value)).append("\n\n");
}

class stream_encoder final : public canon::stream_encoder {
public:
    explicit stream_encoder(const canon::answer_context& ctx)
        : provider_(ctx.provider), model_(ctx.model), request_id_(ctx.request_id),
          json_output_(ctx.json_output) {}

    void write(const canon::event& e, std::string& out) override {
        switch (e.kind) {
        case canon::event_kind::start:
            served_ = e.name;
            break;
        case canon::event_kind::text:
            if (json_output_) {
                text_.append(e.text); // sent as the JSON answer at the end
            } else if (!e.text.empty()) {
                frame(out, {{"delta", {{"text", {{"text", e.text}}}}}});
            }
            break;
        case canon::event_kind::reasoning:
            if (!e.text.empty()) {
                frame(out, {{"delta", {{"text", {{"thoughts", e.text}}}}}});
            }
            break;
        case canon::event_kind::tool_call: {
            canon::part call = codec::make_part(part_kind::tool_call);
            call.id = e.id;
            call.name = e.name;
            calls_.push_back(std::move(call));
            break;
        }
        case canon::event_kind::tool_arguments:
            if (e.index >= 0 && static_cast<std::size_t>(e.index) < calls_.size()) {
                calls_[static_cast<std::size_t>(e.index)].arguments.append(e.text);
            }
            break;
        case canon::event_kind::usage:
            usage_ = e.usage;
            break;
        case canon::event_kind::signature:
        case canon::event_kind::redacted_reasoning:
        case canon::event_kind::finish:
            break; // the AIGNE output has no place for them
        }
    }

    void finish(std::string& out) override {
        if (!calls_.empty()) {
            ojson list = ojson::array();
            for (const auto& call : calls_) {
                list.push_back(tool_call_json(call));
            }
            frame(out, {{"delta", {{"json", {{"toolCalls", std::move(list)}}}}}});
        }
        if (json_output_ && !text_.empty()) {
            ojson parsed = ojson::parse(text_, nullptr, false);
            if (parsed.is_discarded()) {
                frame(out, {{"delta", {{"text", {{"text", text_}}}}}});
            } else {
                frame(out, {{"delta", {{"json", {{"json", std::move(parsed)}}}}}});
            }
        }
        ojson last = {{"model", served_.empty() ? model_ : served_}};
        canon::answer_context ctx{
            .provider = provider_, .model = model_, .request_id = request_id_};
        set_usage(last, usage_, ctx);
        last["modelWithProvider"] = with_provider(ctx);
        frame(out, {{"delta", {{"json", std::move(last)}}}});
    }

    void fail(std::string& out, std::string_view message, std::string_view /*code*/) override {
        append_error_event(out, message);
    }

private:
    std::string provider_;
    std::string model_;
    std::string request_id_;
    bool json_output_;
    std::string served_;
    std::string text_;
    std::vector<canon::part> calls_;
    usage_counts usage_;
};

// The image request's fields, from input or from input.modelOptions (where the framework's
// image models keep their options).
void copy_option(const ojson& input, ojson& out, const char* from, const char* to) {
    const ojson& direct = codec::member(input, from);
    const ojson& option = codec::member(codec::member(input, "modelOptions"), from);
    if (!direct.is_null()) {
        out[to] = direct;
    } else if (!option.is_null()) {
        out[to] = option;
    }
}

std::string image_mime(const ojson& answer) {
    const std::string format = codec::string_member(answer, "output_format");
    return format.empty() ? "image/png" : "image/" + format;
}

} // namespace

std::optional<std::string> model_of(const ojson& body) {
    const ojson& input = input_of(body);
    std::string model = codec::string_member(codec::member(input, "modelOptions"), "model");
    if (model.empty()) {
        model = codec::string_member(input, "model");
    }
    if (model.empty()) {
        model = codec::string_member(body, "model");
    }
    if (model.empty()) {
        return std::nullopt;
    }
    return without_hub_prefix(std::move(model));
}

std::string without_hub_prefix(std::string model) {
    for (const std::string_view prefix : prefixes) {
        if (model.starts_with(prefix) && model.size() > prefix.size()) {
            model.erase(0, prefix.size());
            break;
        }
    }
    return model;
}

std::optional<bad_field> read_request(endpoint which, std::string_view body, request_view& out) {
    if (!codec::scan_object(body)) {
        return bad_field{"", "the request body must be a JSON object", "invalid_json"};
    }
    const ojson request = ojson::parse(body, nullptr, false);
    const ojson& input = input_of(request);
    if (!input.is_object()) {
        return bad_field{"input", "input is required and must be an object", "invalid_request"};
    }
    auto model = model_of(request);
    if (!model) {
        return bad_field{"input.modelOptions.model", "input.modelOptions.model is required",
                         "invalid_request"};
    }
    const ojson& streaming = codec::member(codec::member(request, "options"), "streaming");
    switch (which) {
    case endpoint::chat:
    case endpoint::count_tokens:
        out.body = body;
        out.model = std::move(*model);
        out.stream = streaming.is_boolean() && streaming.get<bool>();
        if (!codec::member(input, "messages").is_array()) {
            return bad_field{"input.messages", "input.messages must be an array of messages",
                             "invalid_request"};
        }
        return std::nullopt;
    case endpoint::images: {
        ojson openai = {{"model", *model}};
        if (!codec::member(input, "prompt").is_string()) {
            return bad_field{"input.prompt", "input.prompt is required and must be a string",
                             "invalid_request"};
        }
        if (!codec::member(input, "image").is_null()) {
            return bad_field{"input.image", "image edits are not served on /api/v2/image",
                             "invalid_request"};
        }
        openai["prompt"] = input["prompt"];
        copy_option(input, openai, "n", "n");
        copy_option(input, openai, "size", "size");
        copy_option(input, openai, "quality", "quality");
        copy_option(input, openai, "style", "style");
        copy_option(input, openai, "responseFormat", "response_format");
        out.converted = dump(openai);
        return gateway::read_request(which, out.converted, out);
    }
    case endpoint::embeddings: {
        ojson openai = {{"model", *model}};
        const ojson& text = codec::member(input, "input");
        if (!text.is_string() && !text.is_array()) {
            return bad_field{"input.input", "input.input must be a string or an array of strings",
                             "invalid_request"};
        }
        openai["input"] = text;
        copy_option(input, openai, "dimensions", "dimensions");
        out.converted = dump(openai);
        return gateway::read_request(which, out.converted, out);
    }
    }
    return std::nullopt;
}

std::optional<bad_field> decode_request(std::string_view body, canon::chat_request& out) {
    const ojson request = ojson::parse(body, nullptr, false);
    const ojson& input = input_of(request);
    out.model = model_of(request).value_or("");
    if (auto bad = messages(codec::member(input, "messages"), out)) {
        return bad;
    }
    if (out.messages.empty()) {
        return codec::refuse("input.messages", "input.messages holds no user or agent message");
    }
    if (auto bad = tools(input, out)) {
        return bad;
    }
    if (auto bad = response_format(input, out)) {
        return bad;
    }
    return model_options(codec::member(input, "modelOptions"), out);
}

std::string encode_answer(const canon::chat_answer& answer, const canon::answer_context& ctx) {
    std::string text;
    std::string thoughts;
    ojson calls = ojson::array();
    for (const canon::part& p : answer.parts) {
        if (p.kind == part_kind::text) {
            text.append(p.text);
        } else if (p.kind == part_kind::reasoning) {
            thoughts.append(p.text);
        } else if (p.kind == part_kind::tool_call) {
            calls.push_back(tool_call_json(p));
        }
    }
    ojson out = ojson::object();
    ojson parsed = ctx.json_output ? ojson::parse(text, nullptr, false) : ojson();
    if (ctx.json_output && !parsed.is_discarded() && !text.empty()) {
        out["json"] = std::move(parsed);
    } else if (!text.empty()) {
        out["text"] = text;
    }
    if (!thoughts.empty()) {
        out["thoughts"] = thoughts;
    }
    if (!calls.empty()) {
        out["toolCalls"] = std::move(calls);
    }
    out["model"] = answer.model.empty() ? std::string(ctx.model) : answer.model;
    set_usage(out, answer.usage, ctx);
    out["modelWithProvider"] = with_provider(ctx);
    return dump(out);
}

std::unique_ptr<canon::stream_encoder> make_stream_encoder(const canon::answer_context& ctx) {
    return std::make_unique<stream_encoder>(ctx);
}

bool relayed_answer(endpoint which, std::string& body, const canon::answer_context& ctx) {
    const ojson answer = ojson::parse(body, nullptr, false);
    if (!answer.is_object() || !codec::member(answer, "data").is_array()) {
        return false;
    }
    ojson out = ojson::object();
    const ojson& usage = codec::member(answer, "usage");
    usage_counts counts;
    if (which == endpoint::images) {
        ojson images = ojson::array();
        const std::string mime = image_mime(answer);
        for (const ojson& item : answer["data"]) {
            if (const std::string url = codec::string_member(item, "url"); !url.empty()) {
                images.push_back({{"type", "url"}, {"url", url}, {"mimeType", mime}});
            } else {
                images.push_back({{"type", "file"},
                                  {"data", codec::string_member(item, "b64_json")},
                                  {"mimeType", mime}});
            }
        }
        out["images"] = std::move(images);
        counts.prompt = codec::integer_of(codec::member(usage, "input_tokens")).value_or(0);
        counts.completion = codec::integer_of(codec::member(usage, "output_tokens")).value_or(0);
    } else {
        ojson vectors = ojson::array();
        for (const ojson& item : answer["data"]) {
            vectors.push_back(codec::member(item, "embedding"));
        }
        out["embeddings"] = std::move(vectors);
        counts.prompt = codec::integer_of(codec::member(usage, "prompt_tokens")).value_or(0);
    }
    const std::string model = codec::string_member(answer, "model");
    out["model"] = model.empty() ? std::string(ctx.model) : model;
    set_usage(out, counts, ctx);
    out["modelWithProvider"] = with_provider(ctx);
    body = dump(out);
    return true;
}

void append_error_event(std::string& out, std::string_view message) {
    out.append("event: error\ndata: ");
    out.append(dump(ojson{{"message", message}}));
    out.append("\n\n");
}

std::string client_app(std::string_view header) {
    std::string out;
    for (std::size_t i = 0; i < header.size() && out.size() < 200; ++i) {
        char c = header[i];
        if (c == '%' && i + 2 < header.size()) {
            const int hi = detail::hex_digit(header[i + 1]);
            const int lo = detail::hex_digit(header[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f) {
            out.push_back(c);
        }
    }
    return out;
}

} // namespace aignehub::gateway::aigne
