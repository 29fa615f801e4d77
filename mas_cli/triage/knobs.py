"""The settings advice names, as each framework or agent harness spells them (`advice.py`).

Each generic knob a detector's fix calls for (`max_turns`, `tool_cache`, `rate`, ...) has one
wording per writer of a log: the frameworks a trace names (CrewAI, LangGraph, the OpenAI Agents
SDK, AutoGen), the coding agents whose trajectories are read (SWE-agent's `agent.model.*` and
`agent.tools.*` settings, OpenHands' `config.toml`), and plain chat transcripts, whose advice
says what to change in the agent's prompt or loop and names no setting, since none applies.
Every name here is one the framework documents. Fields: {agent}, {other}, {tool} ("tool X" or
"tools X and Y"), {names} (quoted, for a list), {turns}, {steps}, {limit}.
"""

from __future__ import annotations

from mas_cli.events.formats.frameworks import (
    AUTOGEN,
    CHAT,
    CREWAI,
    LANGGRAPH,
    OPENAI_AGENTS,
    OPENHANDS,
    SWE_AGENT,
)

PREFIX = {
    CREWAI: "in CrewAI: ",
    LANGGRAPH: "in LangGraph: ",
    OPENAI_AGENTS: "in Agents SDK: ",
    AUTOGEN: "in AutoGen: ",
    SWE_AGENT: "in SWE-agent: ",
    OPENHANDS: "in OpenHands: ",
    CHAT: "in the agent's prompt or loop: ",
}
"""How a reworded fix starts: whose settings it names."""

_OH_CORE = "in config.toml's [core] section"

KNOBS: dict[str, dict[str, str]] = {
    "max_turns": {
        CREWAI: "cap agent {agent} with max_iter={turns} on its Agent",
        LANGGRAPH: 'bound the run with config={{"recursion_limit": {steps}}} on invoke or stream '
        "(about two steps a turn: the model node, then the tools node)",
        OPENAI_AGENTS: "cap the run with Runner.run(agent, input, max_turns={turns})",
        AUTOGEN: "cap the team with max_turns={turns} (RoundRobinGroupChat(..., max_turns=...)) "
        "and agent {agent} with max_tool_iterations",
        SWE_AGENT: "cap the steps with agent.model.per_instance_call_limit: {turns} (and the "
        "spend with agent.model.per_instance_cost_limit)",
        OPENHANDS: f"cap the run with max_iterations = {{turns}} {_OH_CORE} (and the spend "
        "with max_budget_per_task)",
        CHAT: "stop the loop that calls the model after {turns} turns of agent {agent}",
    },
    "clear_end": {
        CREWAI: "give agent {agent}'s Task an expected_output it can meet (or an output_pydantic)",
        LANGGRAPH: "end the loop in the graph's design: a conditional edge from agent {agent}'s "
        "model node to END once its answer is final (a response_format it can fill)",
        OPENAI_AGENTS: "give agent {agent} an output_type it can meet, or "
        'tool_use_behavior="stop_on_first_tool" when the tool\'s answer is the answer',
        AUTOGEN: "give the team a termination condition "
        "(TextMentionTermination, MaxMessageTermination)",
        SWE_AGENT: "say in agent.templates.instance_template when the work is done, so the "
        "agent runs submit instead of another step",
        OPENHANDS: "say in the task when the work is done, so agent {agent} ends with the "
        "finish action",
        CHAT: "say in agent {agent}'s system prompt what a final answer looks like, and end the "
        "loop when it gives one",
    },
    "tool_cache": {
        CREWAI: "let CrewAI answer repeats of {tool} from its cache: keep cache=True on the "
        "Agent and the Crew (the default) and give each tool a cache_function that returns True "
        "for these arguments",
        LANGGRAPH: "give the node that calls {tool} a cache_policy "
        "(add_node(..., cache_policy=CachePolicy()) with compile(cache=InMemoryCache())) so "
        "repeats are answered from the cache, or route to END once it has answered",
        OPENAI_AGENTS: "the SDK runs a function tool every time it is asked: cache inside "
        "{tool} (functools.lru_cache), or stop on it with "
        "tool_use_behavior=StopAtTools(stop_at_tool_names=[{names}])",
        AUTOGEN: "cache inside {tool}, and stop the team with a termination condition "
        "(MaxMessageTermination)",
        SWE_AGENT: "SWE-agent runs every command it is given: say in "
        "agent.templates.next_step_template that {tool} answers the same each time, and cap the "
        "steps with agent.model.per_instance_call_limit",
        OPENHANDS: "OpenHands runs every action it is given: say in the task that {tool} "
        f"answers the same each time, and cap the run with max_iterations {_OH_CORE}",
        CHAT: "answer repeats of {tool} from a cache in the loop that runs the tools, and say "
        "in the tool's description that its answer does not change",
    },
    "final_say": {
        CREWAI: "set allow_delegation=False on one of {agent} and {other}, and give the last "
        "Task an expected_output that ends the exchange",
        LANGGRAPH: "the edges between {agent} and {other} make a cycle: give one of them a "
        "conditional edge to END (or Command(goto=END)) once the work is done",
        OPENAI_AGENTS: "take the handoff back out: keep {agent} out of {other}'s handoffs (or "
        "the reverse), so one of them finishes",
        AUTOGEN: "end the group chat when {agent} or {other} gives the final answer "
        '(TextMentionTermination("TERMINATE"))',
        SWE_AGENT: "give one of {agent} and {other} the last word: say in its "
        "agent.templates.instance_template that it ends the work with submit",
        OPENHANDS: "let the delegate of {agent} and {other} finish and return, instead of "
        "delegating back (the delegate action)",
        CHAT: "give one of {agent} and {other} the final say in its prompt, and end the chat "
        "when it has spoken",
    },
    "history": {
        CREWAI: "keep respect_context_window=True on agent {agent} (CrewAI then summarises the "
        "history near the window) and shorten what its tools return",
        LANGGRAPH: "trim the messages before each model call (trim_messages in the model node, "
        "or a pre_model_hook in create_react_agent)",
        OPENAI_AGENTS: "filter what goes back to the model with "
        "RunConfig(call_model_input_filter=...)",
        AUTOGEN: "give agent {agent} a bounded model_context "
        "(BufferedChatCompletionContext(buffer_size=...))",
        SWE_AGENT: "trim the history with agent.history_processors (last_n_observations)",
        OPENHANDS: "let a condenser shorten the history ([condenser] in config.toml)",
        CHAT: "trim the conversation before each model call: keep the system prompt and the "
        "last turns, and shorten what the tools return",
    },
    "run_timeout": {
        CREWAI: "set max_execution_time on agent {agent}'s Agent so a stuck run ends itself",
        LANGGRAPH: "set step_timeout on the compiled graph so a stuck step ends the run",
        OPENAI_AGENTS: "wrap Runner.run in asyncio.wait_for(..., timeout=...) so a stuck run "
        "ends itself",
        AUTOGEN: "add TimeoutTermination to the team's termination condition",
        SWE_AGENT: "bound the run with agent.tools.total_execution_timeout (and each command "
        "with agent.tools.execution_timeout)",
        OPENHANDS: "bound each command with timeout in the [sandbox] section of config.toml, "
        f"and the run with max_iterations {_OH_CORE}",
        CHAT: "give the loop a deadline, so a stuck conversation ends itself",
    },
    "rate": {
        CREWAI: "pace agent {agent} with max_rpm on its Agent (or on the Crew, for every agent)",
        LANGGRAPH: "find what keeps running agent {agent}; LangGraph does not pace model calls: "
        "give the chat model a rate_limiter "
        "(InMemoryRateLimiter from langchain_core.rate_limiters), and bound the run with "
        'config={{"recursion_limit": {steps}}}',
        OPENAI_AGENTS: "the SDK does not pace model calls: find what keeps running agent "
        "{agent}, and cap each run with Runner.run(agent, input, max_turns={turns})",
        AUTOGEN: "find what keeps selecting agent {agent}, and cap the team with "
        "max_turns={turns} and MaxMessageTermination",
        SWE_AGENT: "pace the model with agent.model.delay (the least wait between queries), and "
        "cap the steps with agent.model.per_instance_call_limit",
        OPENHANDS: f"cap agent {{agent}} with max_iterations and max_budget_per_task {_OH_CORE}",
        CHAT: "find what calls agent {agent} so often: make the loop wait between model calls "
        "and stop after {turns} turns",
    },
    "model_retries": {
        CREWAI: "then bound the retries with max_retry_limit on agent {agent}'s Agent",
        LANGGRAPH: "then bound the retries with a RetryPolicy(max_attempts=...) on the node "
        "(add_node(..., retry_policy=...))",
        OPENAI_AGENTS: "then bound the client's retries: AsyncOpenAI(max_retries=...), given to "
        "the SDK with set_default_openai_client",
        AUTOGEN: "then bound the model client's retries (max_retries on "
        "OpenAIChatCompletionClient)",
        SWE_AGENT: "then bound the retries with agent.model.retry.retries (waits from "
        "agent.model.retry.min_wait to max_wait)",
        OPENHANDS: "then bound the retries with num_retries (waits from retry_min_wait to "
        "retry_max_wait) in config.toml's [llm] section",
        CHAT: "and have the loop stop retrying a call that fails the same way twice",
    },
    "tool_errors": {
        CREWAI: "have {tool} return an error the agent can act on; max_retry_limit on agent "
        "{agent}'s Agent bounds the retries",
        LANGGRAPH: "ToolNode(..., handle_tool_errors=...) decides what the model is told of the "
        'error; config={{"recursion_limit": {steps}}} bounds the retries',
        OPENAI_AGENTS: "function_tool(failure_error_function=...) decides what the model is told "
        "of the error; Runner.run(..., max_turns={turns}) bounds the retries",
        AUTOGEN: "have {tool} return an error the agent can act on, and end the team with "
        "MaxMessageTermination so it is not asked again and again",
        SWE_AGENT: "agent.tools.max_consecutive_execution_timeouts bounds commands that time "
        "out, agent.model.per_instance_call_limit the steps that retry it",
        OPENHANDS: f"max_iterations {_OH_CORE} bounds the attempts",
        CHAT: "return its error to the model in words it can act on, and stop the loop when "
        "the same error comes back",
    },
    "limit": {
        CREWAI: "CrewAI's bounds are max_iter and max_execution_time on the Agent (and max_rpm "
        "on the Agent or the Crew)",
        LANGGRAPH: 'the bound is config={{"recursion_limit": ...}} on invoke or stream '
        "(GraphRecursionError when it is hit)",
        OPENAI_AGENTS: "the bound is Runner.run(agent, input, max_turns=...) (MaxTurnsExceeded "
        "when it is hit)",
        AUTOGEN: "the team's bounds are max_turns and its termination conditions "
        "(MaxMessageTermination)",
        SWE_AGENT: "SWE-agent's bounds are agent.model.per_instance_cost_limit and "
        "agent.model.per_instance_call_limit (agent.model.total_cost_limit across instances)",
        OPENHANDS: f"OpenHands' bounds are max_iterations and max_budget_per_task {_OH_CORE}",
        CHAT: "the bound is the harness's own cap on turns or spend; the prompt should say "
        "when the task is done",
    },
}
