#include "gateway/openai_codec.hpp"

#include "core/log.hpp"
#include "fixtures.hpp"
#include "gateway/openai_wire.hpp"
#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aignehub::gateway {
namespace {

namespace fs = std::filesystem;
using canon::event_kind;
using canon::part_kind;
using namespace fixtures;

// ---- recorded traffic -----------------------------------------------------------------------

// Every successful chat completions recording of the OpenAI wire family.
std::vector<recording> family_chats() {
    std::vector<recording> out;
    const fs::path dir = root();
    if (dir.empty()) {
        return out;
    }
    for (const char* provider :
         {"openai", "deepseek", "groq", "mistral", "xai", "openrouter", "ollama"}) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(dir / "dev" / provider)) {
            files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            recording r = read_recording(file, std::string(provider) + "/" + file.stem().string());
            if (r.api == "openai.chat.completions" && r.status == 200) {
                out.push_back(std::move(r));
            }
        }
    }
    return out;
}

// ---- helpers --------------------------------------------------------------------------------

canon::chat_request decoded(std::string_view body) {
    canon::chat_request out;
    const auto bad = openai::decode_request(body, out);
    EXPECT_FALSE(bad.has_value()) << (bad ? bad->param + ": " + bad->message : std::string());
    return out;
}

std::optional<bad_field> refusal(std::string_view body) {
    canon::chat_request out;
    return openai::decode_request(body, out);
}

std::vector<canon::event> decode_stream(std::string_view body, canon::stream_decoder& decoder,
                                        std::optional<upstream_error>& error,
                                        std::size_t piece = 7) {
    std::vector<canon::event> events;
    event_splitter splitter;
    for (std::size_t at = 0; at < body.size() && !error; at += piece) {
        splitter.feed(body.substr(at, piece), [&](std::string_view raw) {
            if (!error) {
                error = decoder.feed(raw, events);
            }
        });
    }
    return events;
}

usage_counts counts(std::int64_t prompt, std::int64_t completion, std::int64_t cached,
                    std::int64_t reasoning) {
    usage_counts u;
    u.prompt = prompt;
    u.completion = completion;
    u.cached = cached;
    u.reasoning = reasoning;
    u.reported = true;
    return u;
}

void expect_same_usage(const usage_counts& got, const usage_counts& want) {
    EXPECT_EQ(got.prompt, want.prompt);
    EXPECT_EQ(got.completion, want.completion);
    EXPECT_EQ(got.cached, want.cached);
    EXPECT_EQ(got.reasoning, want.reasoning);
    EXPECT_EQ(got.reported, want.reported);
}

void expect_same_part(const canon::part& got, const canon::part& want) {
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.signature, want.signature);
    EXPECT_EQ(got.data, want.data);
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.arguments, want.arguments);
}

// The data of each `data:` event of an encoder's output, parsed.
std::vector<ojson> chunks_of(const std::string& sse) {
    std::vector<ojson> out;
    for (const auto& raw : split_events(sse)) {
        const auto e = parse_event(raw);
        out.push_back(e.data == "[DONE]" ? ojson("[DONE]") : ojson::parse(e.data));
    }
    return out;
}

// ---- decode_request -------------------------------------------------------------------------

TEST(OpenAiDecodeRequest, RecordedToolCallRequestGivesTextAndFunctionTools) {
    LOAD_OR_SKIP(r, "openai/chat_tool_call");
    const auto req = decoded(r.request);
    EXPECT_EQ(req.model, "gpt-4o-mini");
    EXPECT_FALSE(req.stream);
    EXPECT_TRUE(req.system.empty());
    ASSERT_EQ(req.messages.size(), 1U);
    EXPECT_EQ(req.messages[0].who, canon::role::user);
    ASSERT_EQ(req.messages[0].parts.size(), 1U);
    EXPECT_EQ(req.messages[0].parts[0].kind, part_kind::text);
    EXPECT_EQ(req.messages[0].parts[0].text,
              "Can the country of Crumpet have dragons? Answer with only YES or NO");
    ASSERT_EQ(req.tools.size(), 2U);
    EXPECT_EQ(req.tools[0].name, "lookup_population");
    EXPECT_EQ(req.tools[0].description,
              "Returns the current population of the specified fictional country");
    EXPECT_EQ(req.tools[0].parameters, ojson::parse(R"({"properties":{"country":{"type":"string"}},
        "required":["country"],"type":"object"})"));
    EXPECT_EQ(req.tools[1].name, "can_have_dragons");
    EXPECT_FALSE(req.tools[1].strict);
    EXPECT_EQ(req.tool_choice, canon::tool_mode::unset);
}

TEST(OpenAiDecodeRequest, RecordedVisionRequestGivesAnImageUrlAndText) {
    LOAD_OR_SKIP(r, "openai/chat_vision_image_url");
    const auto req = decoded(r.request);
    ASSERT_EQ(req.messages.size(), 1U);
    const auto& parts = req.messages[0].parts;
    ASSERT_EQ(parts.size(), 2U);
    EXPECT_EQ(parts[0].kind, part_kind::image);
    EXPECT_EQ(
        parts[0].url,
        "https://github.com/tmc/langchaingo/blob/main/docs/static/img/parrot-icon.png?raw=true");
    EXPECT_TRUE(parts[0].data.empty());
    EXPECT_EQ(parts[1].kind, part_kind::text);
    EXPECT_EQ(parts[1].text, "describe this image in detail");
    EXPECT_EQ(req.max_tokens, 300); // from max_completion_tokens
    EXPECT_EQ(req.temperature, 0.0);
}

TEST(OpenAiDecodeRequest, RecordedStreamingRequestAsksForUsage) {
    LOAD_OR_SKIP(r, "openai/chat_stream_tool_call");
    const auto req = decoded(r.request);
    EXPECT_TRUE(req.stream);
    EXPECT_TRUE(req.include_usage);
    ASSERT_EQ(req.tools.size(), 1U);
    EXPECT_EQ(req.tools[0].name, "multiply");
    EXPECT_EQ(req.messages.at(0).parts.at(0).text, "What is 1231 * 2331?");
}

TEST(OpenAiDecodeRequest, EveryRecordedFamilyRequestIsAcceptedAndDecoded) {
    const auto all = family_chats();
    if (all.empty()) {
        GTEST_SKIP() << "recorded fixtures not found (set AIGNEHUB_FIXTURES)";
    }
    for (const auto& r : all) {
        SCOPED_TRACE(r.name);
        request_view view;
        ASSERT_FALSE(read_request(endpoint::chat, r.request, view).has_value());
        const auto req = decoded(r.request);
        EXPECT_EQ(req.model, view.model);
        EXPECT_EQ(req.stream, view.stream);
        EXPECT_FALSE(req.messages.empty());
    }
}

TEST(OpenAiDecodeRequest, MapsEveryPartKindAndOption) {
    const auto req = decoded(R"({"model":"m","messages":[
        {"role":"developer","content":"Be brief."},
        {"role":"system","content":[{"type":"text","text":"Long context",
                                     "cache_control":{"type":"ephemeral"}}]},
        {"role":"user","content":"Hello","name":"bob",
         "cache_control":{"type":"ephemeral","ttl":"1h"}},
        {"role":"user","content":[
            {"type":"text","text":"What is this?"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=",
                                             "detail":"high"}},
            {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=",
                                   "filename":"a.pdf"}}]},
        {"role":"assistant","content":null,"reasoning_content":"thinking...","refusal":null,
         "tool_calls":[{"id":"call_1","type":"function",
                        "function":{"name":"f","arguments":"{\"x\":1}"}},
                       {"id":"call_2","type":"function","function":{"name":"g"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"one"},
        {"role":"tool","tool_call_id":"call_2",
         "content":[{"type":"text","text":"two"},{"type":"text","text":"three"}]}],
      "tools":[{"type":"function","function":{"name":"f","description":"F","strict":true,
                "parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}},
               {"type":"function","function":{"name":"g"}}],
      "tool_choice":{"type":"function","function":{"name":"f"}},
      "parallel_tool_calls":false,"max_tokens":100,"max_completion_tokens":200,"top_p":0.5,
      "stop":"END","presence_penalty":0.1,"frequency_penalty":0.2,"seed":7,
      "reasoning_effort":"none","user":"u-1","stream":true,
      "stream_options":{"include_usage":true,"continuous_usage_stats":true},
      "response_format":{"type":"json_schema",
                         "json_schema":{"name":"out","schema":{"type":"object"},"strict":true}},
      "thinking":{"type":"enabled","budget_tokens":1024},"top_k":40,
      "store":true,"metadata":{"a":"b"},"service_tier":"auto",
      "prediction":{"type":"content","content":"x"},"safety_identifier":"s",
      "prompt_cache_key":"k","verbosity":"low","n":1,"logprobs":false,"modalities":["text"],
      "functions":null})");
    ASSERT_EQ(req.system.size(), 2U);
    EXPECT_EQ(req.system[0].text, "Be brief.");
    EXPECT_TRUE(req.system[0].cache_control.is_null());
    EXPECT_EQ(req.system[1].text, "Long context");
    EXPECT_EQ(req.system[1].cache_control, ojson::parse(R"({"type":"ephemeral"})"));

    ASSERT_EQ(req.messages.size(), 5U);
    const auto& hello = req.messages[0];
    ASSERT_EQ(hello.parts.size(), 1U);
    EXPECT_EQ(hello.parts[0].text, "Hello");
    EXPECT_EQ(hello.parts[0].cache_control, ojson::parse(R"({"type":"ephemeral","ttl":"1h"})"));

    const auto& mixed = req.messages[1].parts;
    ASSERT_EQ(mixed.size(), 3U);
    EXPECT_EQ(mixed[0].text, "What is this?");
    EXPECT_EQ(mixed[1].kind, part_kind::image);
    EXPECT_EQ(mixed[1].media_type, "image/png");
    EXPECT_EQ(mixed[1].data, "iVBORw0KGgo=");
    EXPECT_TRUE(mixed[1].url.empty());
    EXPECT_EQ(mixed[2].kind, part_kind::document);
    EXPECT_EQ(mixed[2].media_type, "application/pdf");
    EXPECT_EQ(mixed[2].data, "JVBERi0=");
    EXPECT_EQ(mixed[2].title, "a.pdf");

    const auto& assistant = req.messages[2];
    EXPECT_EQ(assistant.who, canon::role::assistant);
    ASSERT_EQ(assistant.parts.size(), 3U);
    EXPECT_EQ(assistant.parts[0].kind, part_kind::reasoning);
    EXPECT_EQ(assistant.parts[0].text, "thinking...");
    EXPECT_TRUE(assistant.parts[0].signature.empty());
    EXPECT_EQ(assistant.parts[1].kind, part_kind::tool_call);
    EXPECT_EQ(assistant.parts[1].id, "call_1");
    EXPECT_EQ(assistant.parts[1].name, "f");
    EXPECT_EQ(assistant.parts[1].arguments, R"({"x":1})");
    EXPECT_EQ(assistant.parts[2].arguments, "{}");

    const auto& one = req.messages[3];
    EXPECT_EQ(one.who, canon::role::tool);
    ASSERT_EQ(one.parts.size(), 1U);
    EXPECT_EQ(one.parts[0].kind, part_kind::tool_result);
    EXPECT_EQ(one.parts[0].id, "call_1");
    ASSERT_EQ(one.parts[0].content.size(), 1U);
    EXPECT_EQ(one.parts[0].content[0].text, "one");
    ASSERT_EQ(req.messages[4].parts.at(0).content.size(), 2U);
    EXPECT_EQ(req.messages[4].parts[0].content[1].text, "three");

    ASSERT_EQ(req.tools.size(), 2U);
    EXPECT_TRUE(req.tools[0].strict);
    EXPECT_EQ(req.tools[0].description, "F");
    EXPECT_EQ(req.tools[1].parameters, ojson::parse(R"({"type":"object","properties":{}})"));
    EXPECT_EQ(req.tool_choice, canon::tool_mode::named);
    EXPECT_EQ(req.tool_name, "f");
    EXPECT_EQ(req.parallel_tool_calls, false);
    EXPECT_EQ(req.max_tokens, 200); // max_completion_tokens wins
    EXPECT_EQ(req.top_p, 0.5);
    EXPECT_EQ(req.stop, std::vector<std::string>{"END"});
    EXPECT_EQ(req.presence_penalty, 0.1);
    EXPECT_EQ(req.frequency_penalty, 0.2);
    EXPECT_EQ(req.seed, 7);
    EXPECT_EQ(req.reasoning_effort, "none");
    EXPECT_EQ(req.reasoning_budget, 1024);
    EXPECT_EQ(req.top_k, 40);
    EXPECT_EQ(req.user, "u-1");
    EXPECT_TRUE(req.stream);
    EXPECT_TRUE(req.include_usage);
    EXPECT_EQ(req.format, canon::response_format::json_schema);
    EXPECT_EQ(req.schema_name, "out");
    EXPECT_EQ(req.schema, ojson::parse(R"({"type":"object"})"));
    EXPECT_TRUE(req.schema_strict);
}

TEST(OpenAiDecodeRequest, ThinkingDisabledAndSimpleChoices) {
    const auto req = decoded(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
        "thinking":{"type":"disabled"},"tool_choice":"required","stop":["a","b"],
        "response_format":{"type":"json_object"}})");
    EXPECT_EQ(req.reasoning_budget, 0);
    EXPECT_EQ(req.tool_choice, canon::tool_mode::required);
    EXPECT_EQ(req.stop, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(req.format, canon::response_format::json_object);
    EXPECT_FALSE(req.include_usage);
}

TEST(OpenAiDecodeRequest, RefusesWhatCannotBeTranslatedNamingTheField) {
    const std::string head = R"({"model":"m","messages":[{"role":"user","content":"hi"}],)";
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"("n":2})", "n"},
        {R"("logprobs":true})", "logprobs"},
        {R"("top_logprobs":2})", "top_logprobs"},
        {R"("logit_bias":{"50256":-100}})", "logit_bias"},
        {R"("audio":{"voice":"alloy","format":"wav"}})", "audio"},
        {R"("modalities":["text","audio"]})", "modalities"},
        {R"("web_search_options":{}})", "web_search_options"},
        {R"("functions":[{"name":"f"}]})", "functions"},
        {R"("function_call":"auto"})", "function_call"},
        {R"("frobnicate":1})", "frobnicate"},
        {R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"web_search"}]})",
         "tools[1].type"},
        {R"("tool_choice":{"type":"allowed_tools","allowed_tools":{}}})", "tool_choice.type"},
        {R"("response_format":{"type":"grammar"}})", "response_format.type"},
        {R"("thinking":{"type":"sometimes"}})", "thinking.type"},
        {R"("temperature":"hot"})", "temperature"},
    };
    for (const auto& [tail, param] : cases) {
        SCOPED_TRACE(tail);
        const auto bad = refusal(head + tail);
        ASSERT_TRUE(bad.has_value());
        EXPECT_EQ(bad->param, param);
        EXPECT_EQ(bad->code, "invalid_request");
        EXPECT_NE(bad->message.find(param), std::string::npos) << bad->message;
    }
}

TEST(OpenAiDecodeRequest, RefusesUntranslatableMessagePartsNamingThem) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"([{"role":"user","content":[{"type":"text","text":"x"},
             {"type":"file","file":{"file_id":"file-abc"}}]}])",
         "messages[0].content[1].file.file_id"},
        {R"([{"role":"user","content":[{"type":"input_audio",
             "input_audio":{"data":"AAAA","format":"wav"}}]}])",
         "messages[0].content[0]"},
        {R"([{"role":"user","content":"x"},{"role":"function","name":"f","content":"1"}])",
         "messages[1].role"},
        {R"([{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://a/b"}}]}])",
         "messages[0].content[0]"},
        {R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://a/b"}}]}])",
         "messages[0].content[0].image_url.url"},
        {R"([{"role":"user","content":[{"type":"file",
             "file":{"file_data":"data:image/png;base64,AAAA"}}]}])",
         "messages[0].content[0].file.file_data"},
        {R"([{"role":"tool","content":"x"}])", "messages[0].tool_call_id"},
        {R"([{"role":"user","content":[{"type":"video","video":{}}]}])",
         "messages[0].content[0].type"},
    };
    for (const auto& [messages, param] : cases) {
        SCOPED_TRACE(messages);
        const auto bad = refusal(R"({"model":"m","messages":)" + messages + "}");
        ASSERT_TRUE(bad.has_value());
        EXPECT_EQ(bad->param, param);
        EXPECT_EQ(bad->code, "invalid_request");
    }
}

// ---- thinking_blocks survive a round through a client ---------------------------------------

canon::chat_answer signed_answer() {
    canon::chat_answer a;
    a.id = "msg_01abc";
    a.model = "claude-sonnet-4-5";
    a.created = 1700000000;
    a.parts.push_back(reasoning_part("Let me see.", "EqQBCkgIARABGAIiQ=="));
    auto hidden = make_part(part_kind::redacted_reasoning);
    hidden.data = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP";
    a.parts.push_back(hidden);
    a.parts.push_back(reasoning_part(" Then more.", "Sig2=="));
    a.parts.push_back(text_part("The answer is 42."));
    a.parts.push_back(call_part("toolu_01", "lookup", R"({"q":"42"})"));
    a.reason = canon::finish::tool_calls;
    a.usage = {.prompt = 100,
               .completion = 50,
               .cached = 20,
               .cache_write_5m = 7,
               .cache_write_1h = 3,
               .reasoning = 30,
               .reported = true};
    return a;
}

TEST(OpenAiThinkingBlocks, SignaturesSurviveAnswerThenNextRequest) {
    const auto answer = signed_answer();
    const ojson body = ojson::parse(openai::encode_answer(answer));
    ojson request{{"model", "claude-sonnet-4-5"},
                  {"messages",
                   {{{"role", "user"}, {"content", "What is it?"}},
                    body["choices"][0]["message"],
                    {{"role", "tool"}, {"tool_call_id", "toolu_01"}, {"content", "42"}}}}};
    const auto req = decoded(dump(request));
    ASSERT_EQ(req.messages.size(), 3U);
    const auto& parts = req.messages[1].parts;
    ASSERT_EQ(parts.size(), answer.parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
        SCOPED_TRACE(i);
        expect_same_part(parts[i], answer.parts[i]);
    }
    EXPECT_EQ(req.messages[2].parts.at(0).id, "toolu_01");
}

TEST(OpenAiThinkingBlocks, AnswerDecodesBackIntoTheSameParts) {
    const auto answer = signed_answer();
    canon::chat_answer back;
    ASSERT_TRUE(openai::decode_answer(openai::encode_answer(answer), back));
    ASSERT_EQ(back.parts.size(), answer.parts.size());
    for (std::size_t i = 0; i < back.parts.size(); ++i) {
        SCOPED_TRACE(i);
        expect_same_part(back.parts[i], answer.parts[i]);
    }
    EXPECT_EQ(back.id, "chatcmpl-msg_01abc");
    EXPECT_EQ(back.model, answer.model);
    EXPECT_EQ(back.created, answer.created);
    EXPECT_EQ(back.reason, canon::finish::tool_calls);
    EXPECT_EQ(back.usage.prompt, 100);
    EXPECT_EQ(back.usage.cached, 20);
    EXPECT_EQ(back.usage.reasoning, 30);
}

// ---- encode_answer --------------------------------------------------------------------------

TEST(OpenAiEncodeAnswer, WritesTheChatCompletionShape) {
    const ojson body = ojson::parse(openai::encode_answer(signed_answer()));
    EXPECT_EQ(body["id"], "chatcmpl-msg_01abc");
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["created"], 1700000000);
    EXPECT_EQ(body["model"], "claude-sonnet-4-5");
    ASSERT_EQ(body["choices"].size(), 1U);
    const ojson& choice = body["choices"][0];
    EXPECT_EQ(choice["index"], 0);
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    const ojson& m = choice["message"];
    EXPECT_EQ(m["role"], "assistant");
    EXPECT_EQ(m["content"], "The answer is 42.");
    EXPECT_EQ(m["reasoning_content"], "Let me see. Then more.");
    EXPECT_EQ(m["thinking_blocks"], ojson::parse(R"([
        {"type":"thinking","thinking":"Let me see.","signature":"EqQBCkgIARABGAIiQ=="},
        {"type":"redacted_thinking",
         "data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
        {"type":"thinking","thinking":" Then more.","signature":"Sig2=="}])"));
    EXPECT_EQ(m["tool_calls"], ojson::parse(R"([{"id":"toolu_01","type":"function",
        "function":{"name":"lookup","arguments":"{\"q\":\"42\"}"}}])"));
    EXPECT_EQ(body["usage"], ojson::parse(R"({"prompt_tokens":100,"completion_tokens":50,
        "total_tokens":150,"prompt_tokens_details":{"cached_tokens":20,"cache_creation_tokens":10},
        "completion_tokens_details":{"reasoning_tokens":30}})"));
}

TEST(OpenAiEncodeAnswer, LeavesOutWhatIsNotThere) {
    canon::chat_answer a;
    a.id = "chatcmpl-kept";
    a.parts.push_back(make_part(part_kind::reasoning, "unsigned thought"));
    a.reason = canon::finish::stop_sequence;
    ojson body = ojson::parse(openai::encode_answer(a));
    EXPECT_EQ(body["id"], "chatcmpl-kept");
    EXPECT_GT(body["created"].get<std::int64_t>(), 1600000000);
    const ojson& m = body["choices"][0]["message"];
    EXPECT_TRUE(m["content"].is_null());
    EXPECT_EQ(m["reasoning_content"], "unsigned thought");
    EXPECT_FALSE(m.contains("thinking_blocks"));
    EXPECT_FALSE(m.contains("tool_calls"));
    EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
    EXPECT_FALSE(body.contains("usage"));

    a.id.clear();
    a.parts.clear();
    a.reason = canon::finish::length;
    a.usage.reported = true;
    body = ojson::parse(openai::encode_answer(a));
    const auto id = body["id"].get<std::string>();
    EXPECT_TRUE(id.starts_with("chatcmpl-"));
    EXPECT_GT(id.size(), 9U + 8U);
    EXPECT_FALSE(body["choices"][0]["message"].contains("reasoning_content"));
    EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(body["usage"]["total_tokens"], 0);
    EXPECT_FALSE(body["usage"]["prompt_tokens_details"].contains("cache_creation_tokens"));
}

// ---- the stream encoder ---------------------------------------------------------------------

TEST(OpenAiStreamEncoder, WritesRoleDeltasFinishUsageAndDone) {
    auto enc = openai::make_stream_encoder(true);
    std::string out;
    canon::event start = make_event(event_kind::start);
    start.id = "msg_1";
    start.name = "claude-x";
    enc->write(start, out);
    enc->write(make_event(event_kind::text, "Hi \"there\"\n"), out);
    canon::event call = make_event(event_kind::tool_call, {}, 0);
    call.id = "toolu_1";
    call.name = "f";
    enc->write(call, out);
    enc->write(make_event(event_kind::tool_arguments, R"({"a":)", 0), out);
    canon::event fin = make_event(event_kind::finish);
    fin.reason = canon::finish::tool_calls;
    enc->write(fin, out);
    canon::event used = make_event(event_kind::usage);
    used.usage = counts(5, 6, 0, 0);
    enc->write(used, out);
    enc->finish(out);

    const auto chunks = chunks_of(out);
    ASSERT_EQ(chunks.size(), 7U);
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
        EXPECT_EQ(chunks[i]["id"], "chatcmpl-msg_1");
        EXPECT_EQ(chunks[i]["object"], "chat.completion.chunk");
        EXPECT_EQ(chunks[i]["model"], "claude-x");
        EXPECT_TRUE(chunks[i]["created"].is_number_integer());
    }
    EXPECT_EQ(chunks[0]["choices"][0]["delta"],
              ojson::parse(R"({"role":"assistant","content":""})"));
    EXPECT_TRUE(chunks[0]["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(chunks[1]["choices"][0]["delta"]["content"], "Hi \"there\"\n");
    EXPECT_EQ(chunks[2]["choices"][0]["delta"], ojson::parse(R"({"tool_calls":[{"index":0,
        "id":"toolu_1","type":"function","function":{"name":"f","arguments":""}}]})"));
    EXPECT_EQ(chunks[3]["choices"][0]["delta"],
              ojson::parse(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]})"));
    EXPECT_EQ(chunks[4]["choices"][0]["delta"], ojson::object());
    EXPECT_EQ(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
    EXPECT_EQ(chunks[5]["choices"], ojson::array());
    EXPECT_EQ(chunks[5]["usage"]["prompt_tokens"], 5);
    EXPECT_EQ(chunks[5]["usage"]["total_tokens"], 11);
    EXPECT_EQ(chunks[6], "[DONE]");
    EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
}

TEST(OpenAiStreamEncoder, StartsLazilyFinishesWithStopAndZeroUsage) {
    auto enc = openai::make_stream_encoder(true);
    std::string out;
    enc->write(make_event(event_kind::reasoning, "hmm"), out);
    enc->finish(out);
    const auto chunks = chunks_of(out);
    ASSERT_EQ(chunks.size(), 5U);
    EXPECT_EQ(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    EXPECT_TRUE(chunks[0]["id"].get<std::string>().starts_with("chatcmpl-"));
    EXPECT_EQ(chunks[1]["choices"][0]["delta"]["reasoning_content"], "hmm");
    EXPECT_EQ(chunks[2]["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(chunks[3]["usage"]["prompt_tokens"], 0);
    EXPECT_EQ(chunks[3]["usage"]["completion_tokens"], 0);
    EXPECT_EQ(chunks[4], "[DONE]");
}

TEST(OpenAiStreamEncoder, NoUsageChunkUnlessAskedAndErrorsAsTheWireDoes) {
    auto enc = openai::make_stream_encoder(false);
    std::string out;
    canon::event used = make_event(event_kind::usage);
    used.usage = counts(5, 6, 0, 0);
    enc->write(make_event(event_kind::text, "x"), out);
    enc->write(used, out);
    enc->finish(out);
    EXPECT_EQ(out.find("\"usage\""), std::string::npos);
    EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));

    std::string failed;
    enc->fail(failed, "the provider broke", "upstream_error");
    std::string want;
    append_error_event(want, "the provider broke", "upstream_error", "upstream_error");
    EXPECT_EQ(failed, want);
}

// ---- encode_request -------------------------------------------------------------------------

canon::chat_request anthropic_style_request() {
    canon::chat_request r;
    r.model = "client-model";
    r.system.push_back(text_part("You are terse."));
    auto cached = text_part("Reference text.");
    cached.cache_control = ojson::parse(R"({"type":"ephemeral"})");
    r.system.push_back(cached);

    canon::message hello;
    hello.parts.push_back(text_part("Hello"));
    r.messages.push_back(hello);

    canon::message mixed;
    mixed.parts.push_back(text_part("Look:"));
    mixed.parts.push_back(media_part(part_kind::image, "image/jpeg", "/9j/4AAQ"));
    mixed.parts.push_back(media_part(part_kind::image, "", "", "https://example.com/cat.png"));
    auto pdf = media_part(part_kind::document, "application/pdf", "JVBERi0=");
    pdf.title = "report.pdf";
    mixed.parts.push_back(pdf);
    mixed.parts.push_back(make_part(part_kind::document, "plain document text"));
    r.messages.push_back(mixed);

    canon::message assistant;
    assistant.who = canon::role::assistant;
    assistant.parts.push_back(reasoning_part("secret thoughts", "sig"));
    assistant.parts.push_back(text_part("Calling."));
    assistant.parts.push_back(call_part("toolu_9", "search", R"({"q":"cats"})"));
    r.messages.push_back(assistant);

    canon::message tool;
    tool.who = canon::role::tool;
    auto result = result_part("toolu_9", "3 cats");
    result.content.push_back(text_part(" found"));
    tool.parts.push_back(result);
    r.messages.push_back(tool);

    auto search =
        make_tool("search", "Searches.",
                  ojson::parse(R"({"type":"object","properties":{"q":{"type":"string"}}})"));
    search.strict = true;
    r.tools.push_back(search);
    r.tools.push_back(make_tool("bare", "", ojson::parse(R"({"type":"object","properties":{}})")));
    r.tool_choice = canon::tool_mode::named;
    r.tool_name = "search";
    r.parallel_tool_calls = false;
    r.max_tokens = 1024;
    r.temperature = 0.7;
    r.top_p = 0.9;
    r.stop = {"\n\nHuman:"};
    r.presence_penalty = 0.5;
    r.frequency_penalty = 0.25;
    r.seed = 11;
    r.user = "end-user-1";
    r.reasoning_budget = 10000;
    r.format = canon::response_format::json_schema;
    r.schema = ojson::parse(R"({"type":"object"})");
    r.schema_name = "answer";
    r.schema_strict = true;
    r.stream = true;
    return r;
}

TEST(OpenAiEncodeRequest, WritesEveryFieldForTheFamily) {
    std::string text;
    ASSERT_FALSE(openai::encode_request(anthropic_style_request(), "gpt-4o", text).has_value());
    const ojson body = ojson::parse(text);
    EXPECT_EQ(body["model"], "gpt-4o");
    const ojson& m = body["messages"];
    ASSERT_EQ(m.size(), 5U);
    EXPECT_EQ(m[0],
              ojson::parse(R"({"role":"system","content":"You are terse.\n\nReference text."})"));
    EXPECT_EQ(m[1], ojson::parse(R"({"role":"user","content":"Hello"})"));
    EXPECT_EQ(m[2]["role"], "user");
    EXPECT_EQ(m[2]["content"], ojson::parse(R"([
        {"type":"text","text":"Look:"},
        {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},
        {"type":"file","file":{"filename":"report.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
        {"type":"text","text":"plain document text"}])"));
    EXPECT_EQ(m[3], ojson::parse(R"({"role":"assistant","content":"Calling.","tool_calls":[
        {"id":"toolu_9","type":"function","function":{"name":"search",
         "arguments":"{\"q\":\"cats\"}"}}]})"));
    EXPECT_EQ(m[4],
              ojson::parse(R"({"role":"tool","tool_call_id":"toolu_9","content":"3 cats found"})"));
    EXPECT_EQ(body["tools"], ojson::parse(R"([
        {"type":"function","function":{"name":"search","description":"Searches.",
         "parameters":{"type":"object","properties":{"q":{"type":"string"}}},"strict":true}},
        {"type":"function","function":{"name":"bare",
         "parameters":{"type":"object","properties":{}}}}])"));
    EXPECT_EQ(body["tool_choice"],
              ojson::parse(R"({"type":"function","function":{"name":"search"}})"));
    EXPECT_EQ(body["parallel_tool_calls"], false);
    EXPECT_EQ(body["max_tokens"], 1024);
    EXPECT_FALSE(body.contains("max_completion_tokens"));
    EXPECT_EQ(body["temperature"], 0.7);
    EXPECT_EQ(body["top_p"], 0.9);
    EXPECT_EQ(body["stop"], ojson::parse(R"(["\n\nHuman:"])"));
    EXPECT_EQ(body["presence_penalty"], 0.5);
    EXPECT_EQ(body["frequency_penalty"], 0.25);
    EXPECT_EQ(body["seed"], 11);
    EXPECT_EQ(body["user"], "end-user-1");
    EXPECT_EQ(body["reasoning_effort"], "medium");
    EXPECT_EQ(body["response_format"], ojson::parse(R"({"type":"json_schema",
        "json_schema":{"name":"answer","schema":{"type":"object"},"strict":true}})"));
    EXPECT_EQ(body["stream"], true);
    EXPECT_EQ(body["stream_options"], ojson::parse(R"({"include_usage":true})"));
    EXPECT_EQ(text.find("secret thoughts"), std::string::npos);
    EXPECT_EQ(text.find("cache_control"), std::string::npos);
    EXPECT_FALSE(body.contains("top_k"));
}

TEST(OpenAiEncodeRequest, LeavesUnsetFieldsOut) {
    canon::chat_request r;
    canon::message hello;
    hello.parts.push_back(text_part("Hello"));
    r.messages.push_back(hello);
    canon::message only_calls;
    only_calls.who = canon::role::assistant;
    only_calls.parts.push_back(call_part("c", "f", ""));
    r.messages.push_back(only_calls);
    std::string text;
    ASSERT_FALSE(openai::encode_request(r, "m", text).has_value());
    const ojson body = ojson::parse(text);
    EXPECT_EQ(body.size(), 2U) << text; // model and messages, nothing else
    ASSERT_EQ(body["messages"].size(), 2U);
    EXPECT_TRUE(body["messages"][1]["content"].is_null());
    EXPECT_EQ(body["messages"][1]["tool_calls"][0]["function"]["arguments"], "{}");
}

TEST(OpenAiEncodeRequest, MapsReasoningBudgetsToEfforts) {
    const std::vector<std::pair<std::int64_t, std::string>> cases{
        {0, ""},           {1024, "low"},   {2048, "low"},  {2049, "medium"},
        {16384, "medium"}, {16385, "high"}, {64000, "high"}};
    for (const auto& [budget, effort] : cases) {
        SCOPED_TRACE(budget);
        canon::chat_request r;
        r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("x")}});
        r.reasoning_budget = budget;
        std::string text;
        ASSERT_FALSE(openai::encode_request(r, "m", text).has_value());
        const ojson body = ojson::parse(text);
        if (effort.empty()) {
            EXPECT_FALSE(body.contains("reasoning_effort"));
        } else {
            EXPECT_EQ(body["reasoning_effort"], effort);
        }
    }
    canon::chat_request r;
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("x")}});
    r.reasoning_budget = 64000;
    r.reasoning_effort = "minimal";
    std::string text;
    ASSERT_FALSE(openai::encode_request(r, "m", text).has_value());
    EXPECT_EQ(ojson::parse(text)["reasoning_effort"], "minimal");
}

TEST(OpenAiEncodeRequest, RefusesWhatTheFamilyCannotCarry) {
    std::string text;
    {
        auto r = anthropic_style_request();
        r.top_k = 40;
        const auto bad = openai::encode_request(r, "m", text);
        ASSERT_TRUE(bad.has_value());
        EXPECT_EQ(bad->param, "top_k");
        EXPECT_EQ(bad->code, "invalid_request");
    }
    {
        auto r = anthropic_style_request();
        r.messages[1].parts.push_back(
            media_part(part_kind::document, "", "", "https://example.com/a.pdf"));
        const auto bad = openai::encode_request(r, "m", text);
        ASSERT_TRUE(bad.has_value());
        EXPECT_EQ(bad->param, "messages[1].content[5].source");
    }
    {
        auto r = anthropic_style_request();
        r.messages[3].parts[0].content.push_back(media_part(part_kind::image, "image/png", "iVBO"));
        const auto bad = openai::encode_request(r, "m", text);
        ASSERT_TRUE(bad.has_value());
        EXPECT_EQ(bad->param, "messages[3].content[0].content");
    }
}

// ---- decode_answer --------------------------------------------------------------------------

struct answer_expectation {
    usage_counts usage;
    canon::finish reason;
    std::string text;
    std::size_t tool_calls;
};

TEST(OpenAiDecodeAnswer, EveryRecordedFamilyAnswerDecodesWithExactUsage) {
    const std::map<std::string, answer_expectation> want{
        {"deepseek/chat_basic", {{12, 1, 0, 0, 0, 0, true}, canon::finish::stop, "4", 0}},
        {"deepseek/chat_tool_call",
         {{407, 94, 0, 0, 0, 0, true},
          canon::finish::tool_calls,
          "Let me look up both pieces of information for you!",
          2}},
        {"groq/chat_basic", {{18, 43, 0, 0, 0, 0, true}, canon::finish::stop, "", 0}},
        {"mistral/chat_basic",
         {{23, 9, 0, 0, 0, 0, true}, canon::finish::stop, "2 + 2 equals **4**.", 0}},
        {"ollama/openai_compat_chat_basic",
         {{0, 26, 0, 0, 0, 0, true}, canon::finish::stop, "", 0}},
        {"openai/chat_basic", {{13, 31, 0, 0, 0, 0, true}, canon::finish::stop, "", 0}},
        {"openai/chat_tool_call", {{92, 17, 0, 0, 0, 0, true}, canon::finish::tool_calls, "", 1}},
        {"openai/chat_vision_image_url",
         {{267, 106, 0, 0, 0, 0, true}, canon::finish::stop, "", 0}},
        {"xai/chat_basic", {{137, 117, 128, 0, 0, 116, true}, canon::finish::stop, "4", 0}},
    };
    const auto all = family_chats();
    if (all.empty()) {
        GTEST_SKIP() << "recorded fixtures not found (set AIGNEHUB_FIXTURES)";
    }
    std::size_t checked = 0;
    for (const auto& r : all) {
        if (r.streaming) {
            continue;
        }
        SCOPED_TRACE(r.name);
        const auto it = want.find(r.name);
        ASSERT_NE(it, want.end()) << "a new recording: add what it should decode to";
        canon::chat_answer a;
        ASSERT_TRUE(openai::decode_answer(r.response, a));
        const ojson raw = ojson::parse(r.response);
        EXPECT_EQ(a.id, raw["id"].get<std::string>());
        EXPECT_EQ(a.model, raw["model"].get<std::string>());
        EXPECT_EQ(a.created, raw["created"].get<std::int64_t>());
        expect_same_usage(a.usage, it->second.usage);
        EXPECT_EQ(a.reason, it->second.reason);
        std::string text;
        std::size_t calls = 0;
        for (const auto& p : a.parts) {
            text += p.kind == part_kind::text ? p.text : "";
            calls += p.kind == part_kind::tool_call ? 1U : 0U;
        }
        const ojson& content = raw["choices"][0]["message"]["content"];
        EXPECT_EQ(text, content.is_string() ? content.get<std::string>() : "");
        if (!it->second.text.empty()) {
            EXPECT_EQ(text, it->second.text);
        }
        EXPECT_EQ(calls, it->second.tool_calls);
        ++checked;
    }
    EXPECT_EQ(checked, want.size());
}

TEST(OpenAiDecodeAnswer, ToolCallsAndReasoningArePartsInOrder) {
    LOAD_OR_SKIP(r, "openai/chat_tool_call");
    canon::chat_answer a;
    ASSERT_TRUE(openai::decode_answer(r.response, a));
    ASSERT_EQ(a.parts.size(), 1U);
    EXPECT_EQ(a.parts[0].kind, part_kind::tool_call);
    EXPECT_EQ(a.parts[0].id, "call_TTY8UFNo7rNCaOBUNtlRSvMG");
    EXPECT_EQ(a.parts[0].name, "lookup_population");
    EXPECT_EQ(a.parts[0].arguments, R"({"country":"Crumpet"})");

    LOAD_OR_SKIP(x, "xai/chat_basic");
    canon::chat_answer b;
    ASSERT_TRUE(openai::decode_answer(x.response, b));
    ASSERT_EQ(b.parts.size(), 2U);
    EXPECT_EQ(b.parts[0].kind, part_kind::reasoning);
    EXPECT_TRUE(b.parts[0].text.starts_with("The question is"));
    EXPECT_EQ(b.parts[1].text, "4");

    LOAD_OR_SKIP(d, "deepseek/chat_tool_call");
    canon::chat_answer c;
    ASSERT_TRUE(openai::decode_answer(d.response, c));
    ASSERT_EQ(c.parts.size(), 3U);
    EXPECT_EQ(c.parts[0].kind, part_kind::text);
    EXPECT_EQ(c.parts[1].arguments, R"({"latitude": "52.5200", "longitude": "13.4050"})");
    EXPECT_EQ(c.parts[2].name, "best_language_to_learn");
    EXPECT_EQ(c.parts[2].arguments, "{}");
}

TEST(OpenAiDecodeAnswer, QuirksAreNormalisedAndNonAnswersRefused) {
    canon::chat_answer a;
    ASSERT_TRUE(openai::decode_answer(R"({"id":"x","model":"m","choices":[{"index":0,
        "message":{"role":"assistant","reasoning":"r1","content":[{"type":"text","text":"a"},
        {"type":"text","text":"b"}]},"finish_reason":"function_call"}],
        "x_groq":{"usage":{"prompt_tokens":4,"completion_tokens":2}}})",
                                      a));
    ASSERT_EQ(a.parts.size(), 2U);
    EXPECT_EQ(a.parts[0].kind, part_kind::reasoning);
    EXPECT_EQ(a.parts[0].text, "r1");
    EXPECT_EQ(a.parts[1].text, "ab");
    EXPECT_EQ(a.reason, canon::finish::tool_calls);
    EXPECT_EQ(a.usage.prompt, 4);
    EXPECT_TRUE(a.usage.reported);

    canon::chat_answer none;
    EXPECT_FALSE(openai::decode_answer(R"({"error":{"message":"nope"}})", none));
    EXPECT_FALSE(openai::decode_answer("[1]", none));
    EXPECT_FALSE(openai::decode_answer("{not json", none));
    EXPECT_FALSE(openai::decode_answer(R"({"choices":[]})", none));
}

// ---- the stream decoder ---------------------------------------------------------------------

struct stream_expectation {
    usage_counts usage;
    canon::finish reason;
    std::vector<std::string> arguments; ///< per tool call
};

// What the recording streams, read independently of the decoder: content, reasoning (either
// spelling) and each tool call's name.
struct recorded_stream {
    std::string model;
    std::string text;
    std::string reasoning;
    std::vector<std::string> names;
};

recorded_stream read_recorded(const std::string& body) {
    recorded_stream out;
    event_splitter splitter;
    splitter.feed(body, [&](std::string_view raw) {
        const auto e = parse_event(raw);
        if (e.data.empty() || e.data == "[DONE]") {
            return;
        }
        const auto chunk = nlohmann::json::parse(e.data);
        if (out.model.empty()) {
            out.model = chunk.value("model", "");
        }
        for (const auto& choice : chunk.value("choices", nlohmann::json::array())) {
            const auto delta = choice.value("delta", nlohmann::json::object());
            if (delta.contains("content") && delta["content"].is_string()) {
                out.text += delta["content"].get<std::string>();
            }
            for (const char* key : {"reasoning_content", "reasoning"}) {
                if (delta.contains(key) && delta[key].is_string()) {
                    out.reasoning += delta[key].get<std::string>();
                    break;
                }
            }
            for (const auto& call : delta.value("tool_calls", nlohmann::json::array())) {
                if (call.contains("function") && call["function"].contains("name")) {
                    out.names.push_back(call["function"]["name"].get<std::string>());
                }
            }
        }
    });
    return out;
}

TEST(OpenAiStreamDecoder, EveryRecordedFamilyStreamDecodes) {
    const std::map<std::string, stream_expectation> want{
        {"deepseek/chat_stream_include_usage",
         {{11, 8, 0, 0, 0, 0, true}, canon::finish::stop, {}}},
        {"groq/chat_stream", {{18, 73, 0, 0, 0, 0, true}, canon::finish::stop, {}}},
        {"mistral/chat_stream", {{22, 8, 0, 0, 0, 0, true}, canon::finish::stop, {}}},
        {"mistral/chat_stream_tool_call",
         {{159, 28, 128, 0, 0, 0, true},
          canon::finish::tool_calls,
          {R"({"latitude": "52.5200", "longitude": "13.4050"})"}}},
        {"ollama/openai_compat_stream_include_usage",
         {{74, 53, 0, 0, 0, 0, true}, canon::finish::stop, {}}},
        {"openai/chat_stream_include_usage",
         {{13, 142, 0, 0, 0, 128, true}, canon::finish::stop, {}}},
        {"openai/chat_stream_tool_call",
         {{54, 20, 0, 0, 0, 0, true}, canon::finish::tool_calls, {R"({"a":1231,"b":2331})"}}},
        {"openrouter/chat_stream_include_usage",
         {{15, 9, 0, 0, 0, 0, true}, canon::finish::stop, {}}},
        {"xai/chat_stream_include_usage",
         {{137, 133, 128, 0, 0, 126, true}, canon::finish::stop, {}}},
    };
    const auto all = family_chats();
    if (all.empty()) {
        GTEST_SKIP() << "recorded fixtures not found (set AIGNEHUB_FIXTURES)";
    }
    std::size_t checked = 0;
    for (const auto& r : all) {
        if (!r.streaming) {
            continue;
        }
        SCOPED_TRACE(r.name);
        const auto it = want.find(r.name);
        ASSERT_NE(it, want.end()) << "a new recording: add what it should decode to";
        const recorded_stream recorded = read_recorded(r.response);
        auto decoder = openai::make_stream_decoder();
        std::optional<upstream_error> error;
        const auto events = decode_stream(r.response, *decoder, error);
        ASSERT_FALSE(error.has_value()) << error->message;
        EXPECT_TRUE(decoder->done());
        ASSERT_FALSE(events.empty());
        EXPECT_EQ(events[0].kind, event_kind::start);
        EXPECT_EQ(events[0].name, recorded.model);
        EXPECT_FALSE(events[0].id.empty());

        std::string text;
        std::string reasoning;
        std::vector<std::string> arguments;
        std::vector<std::string> names;
        std::size_t finishes = 0;
        std::optional<usage_counts> usage;
        for (std::size_t i = 1; i < events.size(); ++i) {
            const auto& e = events[i];
            switch (e.kind) {
            case event_kind::start:
                ADD_FAILURE() << "a second start";
                break;
            case event_kind::text:
                text += e.text;
                break;
            case event_kind::reasoning:
                reasoning += e.text;
                break;
            case event_kind::tool_call:
                ASSERT_EQ(static_cast<std::size_t>(e.index), arguments.size());
                arguments.emplace_back();
                names.push_back(e.name);
                break;
            case event_kind::tool_arguments:
                ASSERT_LT(static_cast<std::size_t>(e.index), arguments.size());
                arguments[static_cast<std::size_t>(e.index)] += e.text;
                break;
            case event_kind::finish:
                ++finishes;
                EXPECT_EQ(e.reason, it->second.reason);
                break;
            case event_kind::usage:
                usage = e.usage;
                break;
            case event_kind::signature:
            case event_kind::redacted_reasoning:
                ADD_FAILURE() << "no thinking blocks were recorded";
                break;
            }
        }
        EXPECT_EQ(text, recorded.text);
        EXPECT_EQ(reasoning, recorded.reasoning);
        EXPECT_EQ(arguments, it->second.arguments);
        EXPECT_EQ(names, recorded.names);
        EXPECT_EQ(finishes, 1U);
        ASSERT_TRUE(usage.has_value());
        expect_same_usage(*usage, it->second.usage);
        ++checked;
    }
    EXPECT_EQ(checked, want.size());
}

TEST(OpenAiStreamDecoder, ErrorsInvalidEventsAndComments) {
    auto decoder = openai::make_stream_decoder();
    std::vector<canon::event> events;
    EXPECT_FALSE(decoder->feed(": OPENROUTER PROCESSING\r\n\r\n", events).has_value());
    EXPECT_TRUE(events.empty());
    const auto error = decoder->feed(
        "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":\"busy\"}}"
        "\n\n",
        events);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->message, "overloaded");
    EXPECT_EQ(error->type, "server_error");
    EXPECT_EQ(error->code, "busy");
    EXPECT_TRUE(events.empty());

    auto broken = openai::make_stream_decoder();
    const auto invalid = broken->feed("data: {\"choices\":[\n\n", events);
    ASSERT_TRUE(invalid.has_value());
    EXPECT_EQ(invalid->message, "the provider sent an invalid stream event");
    EXPECT_FALSE(broken->done());
    EXPECT_FALSE(broken->feed("data: [DONE]\r\n\r\n", events).has_value());
    EXPECT_TRUE(broken->done());
}

TEST(OpenAiStreamDecoder, ToolCallsNumberedByIdOrIndexAndThinkingBlocks) {
    auto decoder = openai::make_stream_decoder();
    std::vector<canon::event> events;
    const auto feed = [&](const std::string& delta) {
        EXPECT_FALSE(decoder
                         ->feed("data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                                "\"delta\":" +
                                    delta + "}]}\n\n",
                                events)
                         .has_value());
    };
    // Some compatible servers give every call index 0: a new id is a new call.
    feed(R"({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]})");
    feed(R"({"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":""}}]})");
    feed(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]})");
    feed(R"({"tool_calls":[{"index":5,"id":"c","function":{"name":"h"}}]})");
    feed(R"({"thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"},)"
         R"({"type":"redacted_thinking","data":"d"}]})");
    feed(R"({"reasoning_content":"r",)"
         R"("thinking_blocks":[{"type":"thinking","thinking":"r","signature":"s2"}]})");
    ASSERT_EQ(events.size(), 11U);
    EXPECT_EQ(events[0].kind, event_kind::start);
    EXPECT_EQ(events[0].id, "c1");
    EXPECT_EQ(events[1].kind, event_kind::tool_call);
    EXPECT_EQ(events[1].index, 0);
    EXPECT_EQ(events[1].id, "a");
    EXPECT_EQ(events[2].kind, event_kind::tool_arguments);
    EXPECT_EQ(events[2].text, "{}");
    EXPECT_EQ(events[3].kind, event_kind::tool_call);
    EXPECT_EQ(events[3].index, 1);
    EXPECT_EQ(events[3].name, "g");
    EXPECT_EQ(events[4].kind, event_kind::tool_arguments);
    EXPECT_EQ(events[4].index, 1);
    EXPECT_EQ(events[5].kind, event_kind::tool_call);
    EXPECT_EQ(events[5].index, 2);
    EXPECT_EQ(events[6].kind, event_kind::reasoning);
    EXPECT_EQ(events[6].text, "t");
    EXPECT_EQ(events[7].kind, event_kind::signature);
    EXPECT_EQ(events[7].text, "s");
    EXPECT_EQ(events[8].kind, event_kind::redacted_reasoning);
    EXPECT_EQ(events[8].text, "d");
    EXPECT_EQ(events[9].kind, event_kind::reasoning); // from reasoning_content, not twice
    EXPECT_EQ(events[9].text, "r");
    EXPECT_EQ(events[10].kind, event_kind::signature);
    EXPECT_EQ(events[10].text, "s2");
}

// ---- encoder and decoder agree --------------------------------------------------------------

TEST(OpenAiStreamRoundTrip, EncodedEventsDecodeBackUnchanged) {
    std::vector<canon::event> original;
    canon::event start = make_event(event_kind::start);
    start.id = "chatcmpl-42";
    start.name = "m-1";
    original.push_back(start);
    original.push_back(make_event(event_kind::reasoning, "Let me think"));
    original.push_back(make_event(event_kind::reasoning, " \"hard\"\n"));
    original.push_back(make_event(event_kind::signature, "c2lnbmF0dXJl"));
    original.push_back(make_event(event_kind::redacted_reasoning, "b3BhcXVl"));
    original.push_back(make_event(event_kind::text, "Hello"));
    original.push_back(make_event(event_kind::text, ", wörld ✓"));
    canon::event call = make_event(event_kind::tool_call, {}, 0);
    call.id = "call_1";
    call.name = "lookup";
    original.push_back(call);
    original.push_back(make_event(event_kind::tool_arguments, R"({"q":)", 0));
    canon::event second = make_event(event_kind::tool_call, {}, 1);
    second.id = "call_2";
    second.name = "other";
    original.push_back(second);
    original.push_back(make_event(event_kind::tool_arguments, "{}", 1));
    original.push_back(make_event(event_kind::tool_arguments, R"("x"})", 0));
    canon::event fin = make_event(event_kind::finish);
    fin.reason = canon::finish::tool_calls;
    original.push_back(fin);
    canon::event used = make_event(event_kind::usage);
    used.usage = counts(10, 20, 3, 5);
    original.push_back(used);

    auto encoder = openai::make_stream_encoder(true);
    std::string wire;
    for (const auto& e : original) {
        encoder->write(e, wire);
    }
    encoder->finish(wire);

    auto decoder = openai::make_stream_decoder();
    std::optional<upstream_error> error;
    const auto back = decode_stream(wire, *decoder, error, 5);
    ASSERT_FALSE(error.has_value()) << error->message;
    EXPECT_TRUE(decoder->done());
    ASSERT_EQ(back.size(), original.size()) << wire;
    for (std::size_t i = 0; i < back.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(back[i].kind, original[i].kind);
        EXPECT_EQ(back[i].text, original[i].text);
        EXPECT_EQ(back[i].id, original[i].id);
        EXPECT_EQ(back[i].name, original[i].name);
        EXPECT_EQ(back[i].index, original[i].index);
        EXPECT_EQ(back[i].reason, original[i].reason);
        expect_same_usage(back[i].usage, original[i].usage);
    }
}

} // namespace
} // namespace aignehub::gateway
