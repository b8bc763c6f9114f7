#include "gateway/gemini_wire.hpp"

#include "core/hex.hpp"
#include "gateway/codec_util.hpp"
#include "gateway/json_scan.hpp"
#include "gateway/sse.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace aignehub::gateway::gemini {

namespace {

using canon::part;
using canon::part_kind;
using codec::clean_text;
using codec::make_event;
using codec::make_part;
using codec::refuse;
using codec::string_member;

std::string at(std::size_t message, std::size_t part) {
    return "messages[" + std::to_string(message) + "].content[" + std::to_string(part) + "]";
}

// "models/<model>", as Gemini names a model in a request body.
std::string model_resource(std::string_view model) {
    return model.starts_with("models/") ? std::string(model) : "models/" + std::string(model);
}

// Files uploaded through Gemini's File API, or in Cloud Storage: the only URLs Gemini reads.
bool gemini_file_uri(std::string_view url) {
    return url.starts_with("gs://") ||
           url.starts_with("https://generativelanguage.googleapis.com/");
}

// The media type of base64 image data from its first bytes, for parts that came without one.
std::string_view sniff_image(std::string_view data) {
    if (data.starts_with("iVBOR")) {
        return "image/png";
    }
    if (data.starts_with("/9j/")) {
        return "image/jpeg";
    }
    if (data.starts_with("R0lGOD")) {
        return "image/gif";
    }
    if (data.starts_with("UklGR")) {
        return "image/webp";
    }
    return {};
}

ojson inline_data(std::string_view media_type, std::string_view data) {
    ojson blob = ojson::object();
    blob["mimeType"] = media_type;
    blob["data"] = data;
    return ojson{{"inlineData", std::move(blob)}};
}

ojson file_data(std::string_view media_type, std::string_view uri) {
    ojson file = ojson::object();
    if (!media_type.empty()) {
        file["mimeType"] = media_type;
    }
    file["fileUri"] = uri;
    return ojson{{"fileData", std::move(file)}};
}

// An image or document part of the user's (or a tool result's) content as a Gemini part.
std::optional<bad_field> media_part(const part& p, const std::string& where, ojson& out) {
    const bool image = p.kind == part_kind::image;
    std::string media_type = p.media_type;
    std::string data = p.data;
    auto inline_url = data.empty() ? codec::parse_data_url(p.url) : std::nullopt;
    if (inline_url) {
        media_type = std::move(inline_url->media_type);
        data = std::move(inline_url->data);
    } else if (data.empty() && !p.url.empty()) {
        if (!gemini_file_uri(p.url)) {
            return image ? refuse(where + ".image_url",
                                  "Gemini takes images inline only: send the image as a base64 "
                                  "data URL (data:image/png;base64,...) or as a Gemini File API "
                                  "URI")
                         : refuse(where + ".file",
                                  "Gemini takes documents inline only: send the file as base64 "
                                  "data or as a Gemini File API URI");
        }
        out = file_data(media_type, p.url);
        return std::nullopt;
    }
    if (!image && data.empty()) {
        out = ojson{{"text", p.text}}; // a plain-text document
        return std::nullopt;
    }
    if (media_type.empty()) {
        media_type = image ? std::string(sniff_image(data)) : "application/pdf";
    }
    if (media_type.empty()) {
        return refuse(where + ".image_url",
                      "the image's media type is unknown: send it as a data URL that names it "
                      "(data:image/png;base64,...)");
    }
    out = inline_data(media_type, data);
    return std::nullopt;
}

// A tool result as a functionResponse: its text when that is a JSON object, else the text
// wrapped ({"result": text}, or {"error": text} for a failed call). Images in the result follow
// the function responses of the turn as inline parts (Gemini 2.x's functionResponse holds JSON
// only).
std::optional<bad_field> tool_response(const part& p, const std::string& name,
                                       const std::string& where, ojson& response,
                                       std::vector<ojson>& extras) {
    std::string text;
    std::size_t j = 0;
    for (const auto& c : p.content) {
        if (c.kind == part_kind::text) {
            if (!text.empty() && !c.text.empty()) {
                text += '\n';
            }
            text += c.text;
        } else if (c.kind == part_kind::image || c.kind == part_kind::document) {
            ojson media;
            if (auto bad = media_part(c, where + ".content[" + std::to_string(j) + "]", media)) {
                return bad;
            }
            extras.push_back(std::move(media));
        }
        ++j;
    }
    if (p.content.empty()) {
        text = p.text;
    }
    ojson result = ojson::parse(text, nullptr, false);
    if (!result.is_object()) {
        result = ojson{{p.is_error ? "error" : "result", text}};
    }
    ojson call = ojson::object();
    call["name"] = name;
    call["response"] = std::move(result);
    response = ojson{{"functionResponse", std::move(call)}};
    return std::nullopt;
}

// The function declarations' parameters: omitted for a tool that takes none.
bool has_parameters(const ojson& schema) {
    if (!schema.is_object()) {
        return false;
    }
    const auto properties = schema.find("properties");
    if (properties != schema.end() && properties->is_object() && !properties->empty()) {
        return true;
    }
    return schema.contains("anyOf") || schema.contains("oneOf") || schema.contains("allOf") ||
           schema.contains("$ref");
}

// Fills `body` with the generateContent fields for `request`.
std::optional<bad_field> encode_body(const canon::chat_request& request, ojson& body) {
    ojson contents = ojson::array();
    std::map<std::string, std::string, std::less<>> call_names; // tool-call id -> function
    // The function responses of consecutive tool messages go in one user content, with the
    // images of those results after them.
    std::vector<ojson> responses;
    std::vector<ojson> extras;
    const auto close_tool_turn = [&] {
        if (responses.empty() && extras.empty()) {
            return;
        }
        ojson parts = ojson::array();
        for (auto& r : responses) {
            parts.push_back(std::move(r));
        }
        for (auto& e : extras) {
            parts.push_back(std::move(e));
        }
        contents.push_back(ojson{{"role", "user"}, {"parts", std::move(parts)}});
        responses.clear();
        extras.clear();
    };

    for (std::size_t i = 0; i < request.messages.size(); ++i) {
        const auto& m = request.messages[i];
        if (m.who == canon::role::tool) {
            for (std::size_t j = 0; j < m.parts.size(); ++j) {
                const auto& p = m.parts[j];
                if (p.kind != part_kind::tool_result) {
                    continue;
                }
                const auto name = call_names.find(p.id);
                ojson response;
                // The client's tool message is the result: its content is the result's.
                if (auto bad =
                        tool_response(p, name != call_names.end() ? name->second : p.id,
                                      "messages[" + std::to_string(i) + "]", response, extras)) {
                    return bad;
                }
                responses.push_back(std::move(response));
            }
            continue;
        }
        close_tool_turn();
        const bool assistant = m.who == canon::role::assistant;
        ojson parts = ojson::array();
        for (std::size_t j = 0; j < m.parts.size(); ++j) {
            const auto& p = m.parts[j];
            switch (p.kind) {
            case part_kind::text:
                if (!p.text.empty()) { // Gemini refuses empty text parts
                    parts.push_back(ojson{{"text", p.text}});
                }
                break;
            case part_kind::image:
            case part_kind::document: {
                ojson media;
                if (auto bad = media_part(p, at(i, j), media)) {
                    return bad;
                }
                parts.push_back(std::move(media));
                break;
            }
            case part_kind::reasoning:
            case part_kind::redacted_reasoning:
                // Gemini takes no thoughts back; what it needs of them travels as the
                // thoughtSignature of the function call.
                break;
            case part_kind::tool_call: {
                ojson args = p.arguments.empty() ? ojson::object()
                                                 : ojson::parse(p.arguments, nullptr, false);
                if (!args.is_object()) {
                    return refuse("messages[" + std::to_string(i) + "].tool_calls[" +
                                      std::to_string(j) + "].function.arguments",
                                  "a tool call's arguments must be a JSON object's text for "
                                  "Gemini");
                }
                call_names[p.id] = p.name;
                ojson call = ojson::object();
                call["name"] = p.name;
                call["args"] = std::move(args);
                ojson out = ojson{{"functionCall", std::move(call)}};
                if (std::string signature = signature_of_call_id(p.id); !signature.empty()) {
                    out["thoughtSignature"] = std::move(signature);
                }
                parts.push_back(std::move(out));
                break;
            }
            case part_kind::tool_result: {
                const auto name = call_names.find(p.id);
                ojson response;
                std::vector<ojson> media;
                if (auto bad = tool_response(p, name != call_names.end() ? name->second : p.id,
                                             at(i, j), response, media)) {
                    return bad;
                }
                parts.push_back(std::move(response));
                for (auto& extra : media) {
                    parts.push_back(std::move(extra));
                }
                break;
            }
            }
        }
        if (!parts.empty()) { // an assistant turn of thoughts only leaves nothing
            contents.push_back(
                ojson{{"role", assistant ? "model" : "user"}, {"parts", std::move(parts)}});
        }
    }
    close_tool_turn();
    body["contents"] = std::move(contents);

    ojson system = ojson::array();
    for (const auto& p : request.system) {
        if (p.kind == part_kind::text && !p.text.empty()) {
            system.push_back(ojson{{"text", p.text}});
        }
    }
    if (!system.empty()) {
        body["systemInstruction"] = ojson{{"parts", std::move(system)}};
    }

    if (!request.tools.empty()) {
        ojson declarations = ojson::array();
        for (const auto& t : request.tools) {
            ojson d = ojson::object();
            d["name"] = t.name;
            if (!t.description.empty()) {
                d["description"] = t.description;
            }
            // Clients write JSON Schema; "parameters" takes Gemini's OpenAPI subset only.
            if (has_parameters(t.parameters)) {
                d["parametersJsonSchema"] = t.parameters;
            }
            declarations.push_back(std::move(d));
        }
        body["tools"] = ojson::array({ojson{{"functionDeclarations", std::move(declarations)}}});
        ojson config = ojson::object();
        switch (request.tool_choice) {
        case canon::tool_mode::unset:
            break;
        case canon::tool_mode::automatic:
            config["mode"] = "AUTO";
            break;
        case canon::tool_mode::none:
            config["mode"] = "NONE";
            break;
        case canon::tool_mode::required:
            config["mode"] = "ANY";
            break;
        case canon::tool_mode::named:
            config["mode"] = "ANY";
            config["allowedFunctionNames"] = ojson::array({request.tool_name});
            break;
        }
        if (!config.empty()) {
            body["toolConfig"] = ojson{{"functionCallingConfig", std::move(config)}};
        }
    }

    ojson generation = ojson::object();
    codec::set_if(generation, "temperature", request.temperature);
    codec::set_if(generation, "topP", request.top_p);
    codec::set_if(generation, "topK", request.top_k);
    codec::set_if(generation, "maxOutputTokens", request.max_tokens);
    if (!request.stop.empty()) {
        generation["stopSequences"] = request.stop;
    }
    codec::set_if(generation, "presencePenalty", request.presence_penalty);
    codec::set_if(generation, "frequencyPenalty", request.frequency_penalty);
    codec::set_if(generation, "seed", request.seed);
    switch (request.format) {
    case canon::response_format::text:
        break;
    case canon::response_format::json_object:
        generation["responseMimeType"] = "application/json";
        break;
    case canon::response_format::json_schema:
        generation["responseMimeType"] = "application/json";
        generation["responseJsonSchema"] = request.schema;
        break;
    }
    std::optional<std::int64_t> budget = request.reasoning_budget;
    if (!budget && !request.reasoning_effort.empty()) {
        budget = codec::budget_of_effort(request.reasoning_effort);
        if (!budget) {
            return refuse("reasoning_effort",
                          "reasoning_effort must be minimal, low, medium or high for Gemini");
        }
    }
    if (budget) {
        generation["thinkingConfig"] =
            ojson{{"thinkingBudget", *budget}, {"includeThoughts", *budget > 0}};
    }
    body["generationConfig"] = std::move(generation);
    return std::nullopt;
}

std::int64_t int_of(const ojson& object, std::string_view key) {
    const auto v = object.find(key);
    if (v == object.end()) {
        return 0;
    }
    if (v->is_number_integer()) {
        return v->get<std::int64_t>();
    }
    if (v->is_number_float()) {
        return static_cast<std::int64_t>(v->get<double>());
    }
    return 0;
}

// usageMetadata in OpenAI's terms: cached content is part of promptTokenCount, thoughts are
// counted apart from candidatesTokenCount.
usage_counts usage_of(const ojson& meta) {
    usage_counts u;
    u.reported = true;
    u.prompt = int_of(meta, "promptTokenCount") + int_of(meta, "toolUsePromptTokenCount");
    u.cached = int_of(meta, "cachedContentTokenCount");
    u.reasoning = int_of(meta, "thoughtsTokenCount");
    u.completion = int_of(meta, "candidatesTokenCount") + u.reasoning;
    return u;
}

canon::finish finish_of(std::string_view reason) {
    static constexpr std::array filtered{std::string_view("SAFETY"),
                                         std::string_view("RECITATION"),
                                         std::string_view("BLOCKLIST"),
                                         std::string_view("PROHIBITED_CONTENT"),
                                         std::string_view("SPII"),
                                         std::string_view("IMAGE_SAFETY"),
                                         std::string_view("LANGUAGE"),
                                         std::string_view("IMAGE_PROHIBITED_CONTENT"),
                                         std::string_view("IMAGE_RECITATION")};
    if (reason == "MAX_TOKENS") {
        return canon::finish::length;
    }
    for (const auto f : filtered) {
        if (reason == f) {
            return canon::finish::content_filter;
        }
    }
    return canon::finish::stop; // STOP, MALFORMED_FUNCTION_CALL, OTHER, unspecified, ...
}

// The first candidate (the one with index 0); null when there is none.
const ojson* first_candidate(const ojson& response) {
    const auto candidates = response.find("candidates");
    if (candidates == response.end() || !candidates->is_array()) {
        return nullptr;
    }
    for (const auto& c : *candidates) {
        if (c.is_object() && int_of(c, "index") == 0) {
            return &c;
        }
    }
    return nullptr;
}

const ojson* parts_of(const ojson& candidate) {
    const auto content = candidate.find("content");
    if (content == candidate.end() || !content->is_object()) {
        return nullptr;
    }
    const auto parts = content->find("parts");
    return parts != content->end() && parts->is_array() ? &*parts : nullptr;
}

bool blocked(const ojson& response) {
    const auto feedback = response.find("promptFeedback");
    return feedback != response.end() && feedback->is_object() &&
           !string_member(*feedback, "blockReason").empty();
}

std::string arguments_of(const ojson& call) {
    const auto args = call.find("args");
    return args != call.end() && args->is_object() ? dump(*args) : std::string("{}");
}

// {"code","message","status","details":[{"reason"}]} in OpenAI's terms.
upstream_error error_of(const ojson& error, unsigned status) {
    upstream_error out;
    out.type = status >= 500 ? "upstream_error" : "invalid_request_error";
    const std::string message = string_member(error, "message");
    const std::string code = string_member(error, "status");
    std::string reason;
    if (const auto details = error.find("details"); details != error.end() && details->is_array()) {
        for (const auto& d : *details) {
            if (d.is_object() && reason.empty()) {
                reason = string_member(d, "reason");
            }
        }
    }
    if (!code.empty()) {
        out.type = code;
    }
    out.code = !reason.empty() ? reason : code;
    if (reason == "API_KEY_INVALID" || code == "UNAUTHENTICATED") {
        out.status = 401;
    } else if (code == "PERMISSION_DENIED") {
        out.status = 403;
    } else if (code == "RESOURCE_EXHAUSTED") {
        out.status = 429;
    } else if (code == "UNAVAILABLE") {
        out.status = 503;
    }
    out.message = message.empty() ? "the provider answered " + std::to_string(status) +
                                        (code.empty() ? std::string() : " " + code)
                                  : clean_text(message, 1000);
    return out;
}

// The error object of an error answer ({"error":{...}}, or an array holding one as the
// JSON-array stream sends it); null when there is none.
const ojson* error_object(const ojson& doc) {
    const ojson* top = &doc;
    if (doc.is_array() && doc.size() == 1) {
        top = &doc[0];
    }
    if (!top->is_object()) {
        return nullptr;
    }
    const auto error = top->find("error");
    return error != top->end() && error->is_object() ? &*error : nullptr;
}

class stream_decoder final : public canon::stream_decoder {
public:
    std::optional<upstream_error> feed(std::string_view raw,
                                       std::vector<canon::event>& out) override {
        std::string_view text = raw;
        const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
        while (!text.empty() && ws(text.front())) {
            text.remove_prefix(1);
        }
        if (text.empty()) {
            return std::nullopt;
        }
        std::string data;
        const char first = text.front();
        if (first != '{' && first != '[' && first != ',' && first != ']') {
            data = parse_event(raw).data; // ?alt=sse
            text = data;
            if (text.empty() || text == "[DONE]") {
                return std::nullopt; // a comment or a keep-alive
            }
        } else {
            // An element of the JSON-array stream, with or without the array's punctuation.
            while (!text.empty() &&
                   (ws(text.front()) || text.front() == '[' || text.front() == ',')) {
                text.remove_prefix(1);
            }
            while (!text.empty() && (ws(text.back()) || text.back() == ']' || text.back() == ',')) {
                text.remove_suffix(1);
            }
            if (text.empty()) {
                return std::nullopt;
            }
        }
        ojson doc = ojson::parse(text, nullptr, false);
        if (doc.is_discarded()) {
            // Several elements in one piece: read them as the array they came from.
            doc = ojson::parse("[" + std::string(text) + "]", nullptr, false);
        }
        if (doc.is_discarded()) {
            return upstream_error{"Gemini sent a stream event that is not JSON: " +
                                      clean_text(text, 200),
                                  "upstream_error", "", 0};
        }
        if (doc.is_array()) {
            for (const auto& element : doc) {
                if (auto error = chunk(element, out)) {
                    return error;
                }
            }
            return std::nullopt;
        }
        return chunk(doc, out);
    }

    [[nodiscard]] bool done() const noexcept override { return false; }

private:
    std::optional<upstream_error> chunk(const ojson& c, std::vector<canon::event>& out) {
        if (const ojson* error = error_object(c)) {
            return error_of(*error, 500);
        }
        if (!c.is_object()) {
            return std::nullopt;
        }
        if (!started_) {
            started_ = true;
            canon::event e = make_event(canon::event_kind::start);
            e.id = string_member(c, "responseId");
            e.name = string_member(c, "modelVersion");
            out.push_back(std::move(e));
        }
        canon::finish reason = canon::finish::none;
        if (const ojson* candidate = first_candidate(c)) {
            if (const ojson* parts = parts_of(*candidate)) {
                for (const auto& p : *parts) {
                    part_events(p, out);
                }
            }
            if (const std::string r = string_member(*candidate, "finishReason"); !r.empty()) {
                reason = finish_of(r);
            }
        } else if (blocked(c)) {
            reason = canon::finish::content_filter;
        }
        if (const auto meta = c.find("usageMetadata"); meta != c.end() && meta->is_object()) {
            canon::event e = make_event(canon::event_kind::usage);
            e.usage = usage_of(*meta);
            out.push_back(std::move(e));
        }
        if (reason != canon::finish::none && !finished_) {
            finished_ = true;
            if (reason == canon::finish::stop && calls_ > 0) {
                reason = canon::finish::tool_calls;
            }
            canon::event e = make_event(canon::event_kind::finish);
            e.reason = reason;
            out.push_back(std::move(e));
        }
        return std::nullopt;
    }

    void part_events(const ojson& p, std::vector<canon::event>& out) {
        if (!p.is_object()) {
            return;
        }
        std::string signature = string_member(p, "thoughtSignature");
        if (const auto call = p.find("functionCall"); call != p.end() && call->is_object()) {
            const int index = calls_++;
            canon::event begin = make_event(canon::event_kind::tool_call, {}, index);
            begin.id = make_call_id(index, signature);
            begin.name = string_member(*call, "name");
            out.push_back(std::move(begin));
            out.push_back(
                make_event(canon::event_kind::tool_arguments, arguments_of(*call), index));
            return;
        }
        const auto text = p.find("text");
        if (text == p.end() || !text->is_string()) {
            return;
        }
        const auto thought = p.find("thought");
        const bool thinking = thought != p.end() && thought->is_boolean() && thought->get<bool>();
        if (!text->get_ref<const std::string&>().empty()) {
            out.push_back(
                make_event(thinking ? canon::event_kind::reasoning : canon::event_kind::text,
                           text->get<std::string>()));
        }
        if (thinking && !signature.empty()) {
            out.push_back(make_event(canon::event_kind::signature, std::move(signature)));
        }
    }

    bool started_ = false;
    bool finished_ = false;
    int calls_ = 0;
};

} // namespace

std::optional<bad_field> encode_request(const canon::chat_request& request, std::string& out) {
    ojson body = ojson::object();
    if (auto bad = encode_body(request, body)) {
        return bad;
    }
    out = dump(body);
    return std::nullopt;
}

std::optional<bad_field> encode_count_request(const canon::chat_request& request,
                                              std::string_view model, std::string& out) {
    ojson inner = ojson::object();
    inner["model"] = model_resource(model);
    if (auto bad = encode_body(request, inner)) {
        return bad;
    }
    out = dump(ojson{{"generateContentRequest", std::move(inner)}});
    return std::nullopt;
}

bool decode_count(std::string_view body, std::int64_t& tokens) {
    const ojson doc = ojson::parse(body, nullptr, false);
    if (!doc.is_object()) {
        return false;
    }
    const auto total = doc.find("totalTokens");
    if (total == doc.end() || !total->is_number_integer()) {
        return false;
    }
    tokens = total->get<std::int64_t>();
    return true;
}

bool decode_answer(std::string_view body, canon::chat_answer& out) {
    const ojson doc = ojson::parse(body, nullptr, false);
    if (!doc.is_object() || doc.contains("error") ||
        (!doc.contains("candidates") && !doc.contains("promptFeedback"))) {
        return false;
    }
    out = canon::chat_answer{};
    out.id = string_member(doc, "responseId");
    out.model = string_member(doc, "modelVersion");
    out.reason = canon::finish::stop;
    int calls = 0;
    if (const ojson* candidate = first_candidate(doc)) {
        if (const ojson* parts = parts_of(*candidate)) {
            for (const auto& p : *parts) {
                if (!p.is_object()) {
                    continue;
                }
                const std::string signature = string_member(p, "thoughtSignature");
                if (const auto call = p.find("functionCall");
                    call != p.end() && call->is_object()) {
                    part t = make_part(part_kind::tool_call);
                    t.id = make_call_id(calls++, signature);
                    t.name = string_member(*call, "name");
                    t.arguments = arguments_of(*call);
                    out.parts.push_back(std::move(t));
                    continue;
                }
                const auto text = p.find("text");
                if (text == p.end() || !text->is_string()) {
                    continue; // inline images, executable code: nothing canonical holds them
                }
                const auto thought = p.find("thought");
                if (thought != p.end() && thought->is_boolean() && thought->get<bool>()) {
                    part r = make_part(part_kind::reasoning, text->get<std::string>());
                    r.signature = signature;
                    out.parts.push_back(std::move(r));
                } else if (!text->get_ref<const std::string&>().empty()) {
                    out.parts.push_back(make_part(part_kind::text, text->get<std::string>()));
                }
            }
        }
        out.reason = finish_of(string_member(*candidate, "finishReason"));
    } else if (blocked(doc)) {
        out.reason = canon::finish::content_filter;
    }
    if (out.reason == canon::finish::stop && calls > 0) {
        out.reason = canon::finish::tool_calls;
    }
    if (const auto meta = doc.find("usageMetadata"); meta != doc.end() && meta->is_object()) {
        out.usage = usage_of(*meta);
    }
    return true;
}

std::unique_ptr<canon::stream_decoder> make_stream_decoder() {
    return std::make_unique<stream_decoder>();
}

upstream_error read_error(unsigned status, std::string_view body) {
    const ojson doc = ojson::parse(body, nullptr, false);
    if (const ojson* error = error_object(doc)) {
        return error_of(*error, status);
    }
    upstream_error out;
    out.type = status >= 500 ? "upstream_error" : "invalid_request_error";
    out.message =
        body.empty() ? "the provider answered " + std::to_string(status) : clean_text(body, 500);
    return out;
}

std::string make_call_id(int index, std::string_view signature) {
    std::string id = "call_" + std::to_string(index) + "_" + codec::random_hex(4);
    if (signature.empty()) {
        return id;
    }
    id += "_sig_";
    id.reserve(id.size() + signature.size());
    for (const char c : signature) {
        if (c == '+') {
            id += '-';
        } else if (c == '/') {
            id += '_';
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            id += c;
        } // padding (restored from the length) and anything outside base64 go
    }
    return id;
}

std::string signature_of_call_id(std::string_view id) {
    constexpr std::string_view prefix = "call_";
    constexpr std::string_view marker = "_sig_";
    if (!id.starts_with(prefix)) {
        return {};
    }
    std::size_t pos = prefix.size();
    const std::size_t digits = pos;
    while (pos < id.size() && id[pos] >= '0' && id[pos] <= '9') {
        ++pos;
    }
    if (pos == digits || pos + 1 + 8 > id.size() || id[pos] != '_') {
        return {};
    }
    ++pos;
    for (std::size_t k = 0; k < 8; ++k) {
        if (aignehub::detail::hex_digit(id[pos + k]) < 0) {
            return {};
        }
    }
    pos += 8;
    if (id.substr(pos, marker.size()) != marker || pos + marker.size() == id.size()) {
        return {};
    }
    std::string signature(id.substr(pos + marker.size()));
    for (auto& c : signature) {
        if (c == '-') {
            c = '+';
        } else if (c == '_') {
            c = '/';
        }
    }
    signature.append((4 - signature.size() % 4) % 4, '=');
    return signature;
}

std::optional<bad_field> encode_embeddings(std::string_view openai_body, std::string_view model,
                                           bool& batch, std::string& out) {
    const ojson body = ojson::parse(openai_body, nullptr, false);
    if (!body.is_object()) {
        return bad_field{"", "the request body must be a JSON object", "invalid_request"};
    }
    if (const auto format = body.find("encoding_format");
        format != body.end() && !format->is_null()) {
        if (!format->is_string() || format->get_ref<const std::string&>() == "base64") {
            return refuse("encoding_format",
                          "Gemini returns embeddings as floats only: leave encoding_format out "
                          "or set it to \"float\"");
        }
        if (format->get_ref<const std::string&>() != "float") {
            return refuse("encoding_format", "encoding_format must be \"float\" or \"base64\"");
        }
    }
    std::optional<std::int64_t> dimensions;
    if (const auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
        if (!d->is_number_integer() || d->get<std::int64_t>() <= 0) {
            return refuse("dimensions", "dimensions must be a positive integer");
        }
        dimensions = d->get<std::int64_t>();
    }
    const auto input = body.find("input");
    if (input == body.end() || (!input->is_string() && !input->is_array())) {
        return refuse("input", "input is required: a string or an array of strings");
    }
    const std::string name = model_resource(model);
    const auto request_for = [&](const ojson& text) {
        ojson r = ojson::object();
        r["model"] = name;
        r["content"] = ojson{{"parts", ojson::array({ojson{{"text", text}}})}};
        if (dimensions) {
            r["outputDimensionality"] = *dimensions;
        }
        return r;
    };
    if (input->is_string()) {
        batch = false;
        out = dump(request_for(*input));
        return std::nullopt;
    }
    if (input->empty()) {
        return refuse("input", "input must hold at least one string");
    }
    ojson requests = ojson::array();
    for (const auto& text : *input) {
        if (!text.is_string()) {
            return refuse("input", text.is_number() || text.is_array()
                                       ? "Gemini embeds text only: input given as tokens cannot "
                                         "be sent to it"
                                       : "input must be a string or an array of strings");
        }
        requests.push_back(request_for(text));
    }
    batch = true;
    out = dump(ojson{{"requests", std::move(requests)}});
    return std::nullopt;
}

bool decode_embeddings(std::string& body, std::string_view model, answer_facts& facts) {
    const auto top = codec::scan_object(body);
    if (!top) {
        return false;
    }
    // The vectors are copied number token by number token: the client gets the digits Gemini
    // sent, without a round trip through double.
    std::string out;
    out.reserve(body.size() / 2 + 128);
    out += R"({"object":"list","data":[)";
    std::int64_t count = 0;
    bool found = false;
    bool ok = true;
    usage_counts usage;
    const auto add = [&](const scan::value& embedding) {
        if (embedding.type != scan::kind::object) {
            return false;
        }
        std::optional<scan::value> values;
        scan::members(embedding, [&](std::string_view key, const scan::value& v) {
            if (scan::key_is(key, "values")) {
                values = v;
            }
            return true;
        });
        if (!values || values->type != scan::kind::array) {
            return false;
        }
        if (count > 0) {
            out += ',';
        }
        out += R"({"object":"embedding","index":)";
        out += std::to_string(count++);
        out += R"(,"embedding":[)";
        bool numbers = true;
        bool first = true;
        scan::elements(*values, [&](const scan::value& n) {
            if (n.type != scan::kind::number) {
                numbers = false;
                return false;
            }
            if (!first) {
                out += ',';
            }
            first = false;
            out.append(n.text);
            return true;
        });
        out += "]}";
        return numbers;
    };
    scan::members(*top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "embedding")) {
            found = true;
            ok = add(v);
        } else if (scan::key_is(key, "embeddings")) {
            found = true;
            ok = v.type == scan::kind::array;
            if (ok) {
                scan::elements(v, [&](const scan::value& e) {
                    ok = add(e);
                    return ok;
                });
            }
        } else if (scan::key_is(key, "usageMetadata") && v.type == scan::kind::object) {
            usage.reported = true;
            scan::members(v, [&](std::string_view k, const scan::value& n) {
                if (scan::key_is(k, "promptTokenCount") && n.type == scan::kind::number) {
                    usage.prompt = scan::integer_of(n).value_or(0);
                }
                return true;
            });
        }
        return ok;
    });
    if (!found || !ok) {
        return false;
    }
    out += R"(],"model":)";
    out += scan::quoted(model);
    out += R"(,"usage":{"prompt_tokens":)";
    out += std::to_string(usage.prompt);
    out += R"(,"total_tokens":)";
    out += std::to_string(usage.prompt);
    out += "}}";
    body = std::move(out);
    facts.model = std::string(model);
    facts.items = count;
    facts.usage = usage;
    return true;
}

} // namespace aignehub::gateway::gemini
