#include "gateway/json_scan.hpp"
#include "gateway/openai_wire.hpp"
#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aignehub::gateway {
namespace {

std::vector<std::string> split(event_splitter& s, std::string_view piece) {
    std::vector<std::string> events;
    s.feed(piece, [&](std::string_view e) { events.emplace_back(e); });
    return events;
}

TEST(EventSplitter, HandsOverEachEventOnceItsBlankLineArrives) {
    event_splitter s;
    EXPECT_TRUE(split(s, "data: {\"a\":1}\n").empty());
    EXPECT_EQ(split(s, "\ndata: {\"b\"").size(), 1U);
    const auto rest = split(s, ":2}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n");
    ASSERT_EQ(rest.size(), 3U);
    EXPECT_EQ(rest[0], "data: {\"b\":2}\r\n\r\n");
    EXPECT_EQ(rest[2], "data: [DONE]\n\n");
    EXPECT_TRUE(s.rest().empty());
}

TEST(EventSplitter, NdjsonSplitsPerLine) {
    event_splitter s(framing::ndjson);
    const auto events = split(s, "{\"a\":1}\n{\"b\":");
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(s.rest(), "{\"b\":");
}

TEST(EventSplitter, JsonArrayHandsOverEachElementAsItCloses) {
    event_splitter s(framing::json_array);
    // Gemini's stream without alt=sse: one array, elements separated by ",\r\n".
    EXPECT_TRUE(split(s, "[{\"a\": \"}],[\\\"\"").empty());
    const auto first = split(s, ", \"b\": [1, {\"c\": 2}]}\r\n,\r\n{\"d\"");
    ASSERT_EQ(first.size(), 1U);
    EXPECT_EQ(first[0], "{\"a\": \"}],[\\\"\", \"b\": [1, {\"c\": 2}]}");
    const auto second = split(s, ": 3}\r\n]");
    ASSERT_EQ(second.size(), 1U);
    EXPECT_EQ(second[0], "{\"d\": 3}");
}

TEST(SseEvent, JoinsDataLinesAndReadsTheName) {
    const auto e = parse_event("event: error\ndata: one\r\ndata:two\n: comment\n\n");
    EXPECT_EQ(e.name, "error");
    EXPECT_EQ(e.data, "one\ntwo");
}

TEST(ChatEvents, PlainDeltasPassUnparsedAfterTheFirst) {
    stream_state st;
    const std::string first =
        "data: {\"id\":\"x\",\"model\":\"m-1\",\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n";
    EXPECT_EQ(process_chat_event(first, st).verdict, chunk_verdict::pass);
    EXPECT_EQ(st.model, "m-1");
    EXPECT_EQ(process_chat_event("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n", st)
                  .verdict,
              chunk_verdict::pass);
    EXPECT_EQ(process_chat_event("data: [DONE]\n\n", st).verdict, chunk_verdict::done);
}

TEST(ChatEvents, TheUsageOnlyChunkIsDroppedUnlessAskedForAndAlwaysCounted) {
    const std::string usage = "data: {\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":"
                              "3,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_"
                              "tokens\":2},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}"
                              "\n\n";
    stream_state quiet;
    quiet.model = "m";
    EXPECT_EQ(process_chat_event(usage, quiet).verdict, chunk_verdict::drop);
    EXPECT_EQ(quiet.usage.prompt, 3);
    EXPECT_EQ(quiet.usage.completion, 5);
    EXPECT_EQ(quiet.usage.cached, 2);
    EXPECT_EQ(quiet.usage.reasoning, 1);
    stream_state asked;
    asked.model = "m";
    asked.client_wants_usage = true;
    EXPECT_EQ(process_chat_event(usage, asked).verdict, chunk_verdict::pass);
    EXPECT_EQ(asked.usage.completion, 5);
}

TEST(ChatEvents, ErrorsInDataOrAsAnEventEndTheStream) {
    stream_state st;
    st.model = "m";
    EXPECT_EQ(process_chat_event("data: {\"error\":{\"message\":\"overloaded\"}}\n\n", st).verdict,
              chunk_verdict::error);
    EXPECT_EQ(st.error, "overloaded");
    stream_state named;
    named.model = "m";
    EXPECT_EQ(process_chat_event("event: error\ndata: boom\n\n", named).verdict,
              chunk_verdict::error);
    EXPECT_EQ(named.error, "boom");
}

TEST(ChatEvents, QuirksAreNormalised) {
    stream_state st;
    st.model = "m";
    st.client_wants_usage = true;
    const auto reasoning =
        process_chat_event("data: {\"choices\":[{\"delta\":{\"reasoning\":\"hm\"}}]}\n\n", st);
    ASSERT_EQ(reasoning.verdict, chunk_verdict::replace);
    EXPECT_NE(reasoning.replacement.find("\"reasoning_content\":\"hm\""), std::string::npos);
    const auto groq = process_chat_event(
        "data: {\"choices\":[],\"x_groq\":{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":"
        "6}}}\n\n",
        st);
    ASSERT_EQ(groq.verdict, chunk_verdict::replace);
    EXPECT_NE(groq.replacement.find("\"usage\":{\"prompt_tokens\":4"), std::string::npos);
    EXPECT_EQ(st.usage.completion, 6);
}

TEST(ChatAnswers, ContentPartsBecomeTextAndThinkingBecomesReasoning) {
    auto body = ojson::parse(R"({"choices":[{"message":{"role":"assistant","content":[
        {"type":"thinking","thinking":[{"type":"text","text":"step"}]},
        {"type":"text","text":"4"}]}}]})");
    EXPECT_TRUE(normalise_chat(body));
    EXPECT_EQ(body["choices"][0]["message"]["content"], "4");
    EXPECT_EQ(body["choices"][0]["message"]["reasoning_content"], "step");
    auto plain = ojson::parse(R"({"choices":[{"message":{"content":"4"}}]})");
    EXPECT_FALSE(normalise_chat(plain));
}

std::optional<bad_field> check(endpoint which, std::string_view body) {
    request_view view;
    return read_request(which, body, view);
}

TEST(Requests, KnownFieldsAreTypeCheckedAndUnknownOnesPass) {
    EXPECT_FALSE(check(endpoint::chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],
        "stream":true,"x_new":[1],"n":2.0,"seed":null})"));
    EXPECT_EQ(
        check(endpoint::chat, R"({"model":"m","messages":[{"role":"u"}],"stream":"yes"})")->param,
        "stream");
    EXPECT_EQ(check(endpoint::chat, R"({"model":"m","messages":[{"role":"u"}],"n":1.5})")->param,
              "n");
    EXPECT_EQ(check(endpoint::chat, R"({"messages":[]})")->param, "model");
    EXPECT_EQ(check(endpoint::chat, R"({"model":"m","messages":[]})")->param, "messages");
    EXPECT_EQ(check(endpoint::chat, R"({"model":"m","messages":[{"content":"x"}]})")->param,
              "messages[0].role");
    EXPECT_EQ(check(endpoint::chat, R"({"model":"m","model":"n","messages":[]})")->param, "model");
    EXPECT_EQ(check(endpoint::embeddings, R"({"model":"m"})")->param, "input");
    EXPECT_EQ(check(endpoint::chat, R"({"model":"m",)")->code, "invalid_json");
    EXPECT_EQ(check(endpoint::chat, R"([1])")->code, "invalid_request");
}

TEST(Requests, TheUpstreamBodyIsTheClientsWithTwoSplices) {
    const auto spliced = [](std::string_view body, std::string_view model) {
        request_view view;
        EXPECT_FALSE(read_request(endpoint::chat, body, view));
        return upstream_body(view, model);
    };
    EXPECT_EQ(spliced(R"({"model":"p/m", "messages":[{"role":"user"}], "x":1})", "m"),
              R"({"model":"m", "messages":[{"role":"user"}], "x":1})");
    EXPECT_EQ(
        spliced(R"({"model":"p/m","messages":[{"role":"u"}],"stream":true})", "m"),
        R"({"model":"m","messages":[{"role":"u"}],"stream":true,"stream_options":{"include_usage":true}})");
    EXPECT_EQ(spliced(R"({"stream":true,"stream_options":{"include_usage":false},"model":"a",)"
                      R"("messages":[{"role":"u"}]})",
                      "b\"c"),
              R"({"stream":true,"stream_options":{"include_usage":true},"model":"b\"c",)"
              R"("messages":[{"role":"u"}]})");
    EXPECT_EQ(
        spliced(R"({"model":"a","messages":[{"role":"u"}],"stream":true,"stream_options":{ }})",
                "a"),
        R"({"model":"a","messages":[{"role":"u"}],"stream":true,"stream_options":{"include_usage":true }})");
    EXPECT_EQ(
        spliced(R"({"model":"a","messages":[{"role":"u"}],"stream":true,"stream_options":null})",
                "a"),
        R"({"model":"a","messages":[{"role":"u"}],"stream":true,"stream_options":{"include_usage":true}})");
}

TEST(Scanner, AcceptsJsonAndRefusesEverythingElse) {
    for (const char* good : {R"({"a":[1,-2.5e3,true,false,null,"\u00e9\ud83d\ude00\n"]})", " 0 ",
                             "\"caf\xc3\xa9\"", "[]", "{}"}) {
        EXPECT_TRUE(scan::valid(good)) << good;
    }
    for (const char* bad : {"", "{", R"({"a":})", R"({"a" 1})", "[1,]", "01", "1.", "-", "tru",
                            R"("\x")", R"("\ud800")", R"("\udc00")", "\"\xc3\"", "\"\xed\xa0\x80\"",
                            "\"a\nb\"", "[1] [2]", R"({"a":1,})"}) {
        EXPECT_FALSE(scan::valid(bad)) << bad;
    }
    EXPECT_FALSE(scan::valid(std::string(300, '[') + std::string(300, ']')));
    EXPECT_TRUE(scan::valid(std::string(200, '[') + std::string(200, ']')));
}

TEST(Scanner, WalksMembersAndDecodesStrings) {
    const std::string doc = R"({"k\u0065y":"v\"1","n":[1,{"x":"]"}],"z":2})";
    ASSERT_TRUE(scan::valid(doc));
    std::vector<std::string> seen;
    scan::members(scan::document(doc), [&](std::string_view key, const scan::value& v) {
        seen.push_back(std::string(key) + "=" + std::string(v.text));
        if (scan::key_is(key, "key")) {
            EXPECT_EQ(scan::text_of(v), "v\"1");
        }
        return true;
    });
    ASSERT_EQ(seen.size(), 3U);
    EXPECT_EQ(seen[1], R"(n=[1,{"x":"]"}])");
    EXPECT_EQ(scan::integer_of({"1e2", scan::kind::number}), 100);
    EXPECT_EQ(scan::integer_of({"2.5", scan::kind::number}), std::nullopt);
}

TEST(Scanner, AnEscapedBackslashDoesNotEscapeTheQuoteAfterIt) {
    const std::string doc = R"({"a":"x\\","b":"\\\"","c":1})";
    ASSERT_TRUE(scan::valid(doc));
    std::vector<std::string> keys;
    scan::members(scan::document(doc), [&](std::string_view key, const scan::value&) {
        keys.emplace_back(key);
        return true;
    });
    EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Answers, ModelUsageAndQuirksAreReadWithoutADom) {
    answer_facts facts;
    ASSERT_TRUE(read_answer(R"( {"model":"gpt-x","choices":[{"message":{"content":"4"}}],
        "usage":{"prompt_tokens":3,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":2},
        "completion_tokens_details":{"reasoning_tokens":1}}})",
                            facts));
    EXPECT_EQ(facts.model, "gpt-x");
    EXPECT_EQ(facts.usage.prompt, 3);
    EXPECT_EQ(facts.usage.cached, 2);
    EXPECT_EQ(facts.usage.reasoning, 1);
    EXPECT_FALSE(facts.quirks);
    answer_facts quirky;
    ASSERT_TRUE(
        read_answer(R"({"choices":[{"message":{"reasoning":"hm","content":"4"}}]})", quirky));
    EXPECT_TRUE(quirky.quirks);
    answer_facts images;
    ASSERT_TRUE(read_answer(R"({"data":[{"url":"a"},{"url":"b"}]})", images));
    EXPECT_EQ(images.items, 2);
    answer_facts broken;
    EXPECT_FALSE(read_answer("<html>", broken));
}

TEST(UpstreamErrors, EveryShapeBecomesAMessage) {
    EXPECT_EQ(
        read_error(401, R"({"error":{"message":"bad key","type":"auth","code":"x"}})").message,
        "bad key");
    EXPECT_EQ(read_error(401, R"({"detail":"Invalid API Key"})").message, "Invalid API Key");
    EXPECT_EQ(read_error(503, R"({"code":"c","error":"at capacity"})").message, "at capacity");
    EXPECT_EQ(read_error(502, "<html>\nbad gateway</html>").message,
              "the provider answered 502: <html> bad gateway</html>");
}

} // namespace
} // namespace aignehub::gateway
