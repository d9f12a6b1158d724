// Usage: node check.mjs <baseURL> <model>
// Lists the models and streams one completion from the teacher simulator with the official openai package.
// Prints one JSON line with what it saw; exits non-zero on any protocol error.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });

const models = [];
for await (const m of client.models.list()) models.push(m.id);

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "For what value of $x$ is $2^3\\cdot3^x=72$?" }],
  stream: true,
  stream_options: { include_usage: true },
  seed: 7,
});
let content = "", reasoning = "", finish = null, usage = null, chunks = 0;
for await (const chunk of stream) {
  chunks++;
  for (const choice of chunk.choices) {
    content += choice.delta?.content ?? "";
    reasoning += choice.delta?.reasoning_content ?? "";
    finish = choice.finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}

const completion = await client.chat.completions.create({
  model, n: 2, seed: 7,
  messages: [{ role: "user", content: "For what value of $x$ is $2^3\\cdot3^x=72$?" }],
});

console.log(JSON.stringify({ models, chunks, content, reasoningLength: reasoning.length, finish, usage,
  choices: completion.choices.length, nonStreamFinish: completion.choices[0].finish_reason }));
