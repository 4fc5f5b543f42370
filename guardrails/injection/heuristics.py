"""Phrase patterns of prompt injection and jailbreak attempts (English, with German and French for
the classic phrasings). Each names a reason. They are the first layer: cheap, explainable, and good
at the classic phrasings; the classifier catches paraphrases.

The patterns are written against the hard negatives in devsets/support_questions.jsonl: customers
say "ignore my last message", "say hi to the team", "what does 'access granted' mean on my gift
card page", "developer mode on the watch". So a verb alone is never enough: an override needs an
object that belongs to the assistant (instructions, rules, "the above"), a dictated reply needs a
quoted payload or "only / exactly / nothing else", a persona needs to be one without rules.
"""

from __future__ import annotations

import re

# Words that name the assistant, when text speaks to it or about it.
_AI = r"(?:ai|a\.i\.|ai models?|assistants?|chat\s?bots?|bots?|language models?|llms?|ai agents?|ai systems?|automated assistants?|summari[sz]ers?)"
# What a dictated reply is made of.
_REPLY = r"(?:reply|replies|answer|answers|response|responses|message|messages|output)"
_SAY = r"(?:say|reply|respond|answer|write|print|output|type|echo|return|repeat|copy|paste|put|spell)"
_QUOTE = r"[\"'“”‘’«»„]"
# A sentence start, or a request marker, before an imperative verb.
_IMPERATIVE = (
    r"(?:^|[.!?:;\n]\s*|\b(?:please|just|simply|now|kindly|then|and|can you|could you|would you|will you|"
    r"i need you to|i want you to|you must|you should|you will|make sure to|go ahead and)\s+)"
)

_PATTERNS: dict[str, str] = {
    # --- instruction hijacking: the assistant's instructions are the object ---
    "override_instructions": (
        r"\b(ignore|disregard|forget|skip|override|bypass|drop|abandon|neglect|discard|nevermind|never mind)\b[^.\n]{0,40}"
        r"\b(previous|prior|above|earlier|preceding|all|any|your|ur|the|these|those|initial|original|system|whatever|"
        r"current)\b"
        r"[^.\n]{0,20}\b(instructions?|prompts?|rules?|directions?|guidelines?|guidance|tasks?|assignments?|commands?|"
        r"context|constraints?|directives?|programming|guardrails?|restrictions?|polic(y|ies)|policy text|role)\b"
    ),
    "ignore_the_above": (
        r"\b(ignore|disregard|forget)\s+(all\s+|everything\s+|anything\s+)?(of\s+)?(the\s+|what'?s\s+|that\s+)?"
        r"(above|before this|text above|preceding text)\b"
    ),
    "forget_everything": (
        r"\b(forget|ignore|disregard)\s+(about\s+)?(everything|all\s+(that|this|of\s+(it|that))|"
        r"what\s+(you were|you've been|you have been)\s+(told|given|instructed|taught))\b"
    ),
    "new_instructions": (
        r"\b(new|updated|revised|real|true|actual|legitimate|following|further|different)\s+(system\s+)?"
        r"(instructions?|tasks?|assignments?|rules?|directives?|polic(y|ies)|role|persona|operating parameters|prompt|"
        r"system prompt)\s*(follow|are\b|is\b|say|loaded|:)"
        r"|\byour\s+(new|real|true|actual|next|only|updated)\s+(task|job|role|purpose|instructions?|goal|mission|directive)\b"
        r"|\byour\s+(task|job|role|instructions?|rules?|purpose|prompt|guidelines)\s+(has|have)\s+"
        r"(changed|been\s+(updated|changed|replaced|removed|lifted|overridden))"
        r"|\bnext\s+task\s+from\b"
    ),
    "rules_lifted": (
        r"\b(rules?|instructions?|polic(y|ies)|guidelines?|restrictions?|constraints?|guardrails?|safety\s+\w+|filters?)\b"
        r"[^.\n]{0,30}\b(no longer apply|don'?t apply|do not apply|are (deprecated|suspended|lifted|disabled|void|outdated)|"
        r"(was|were|have been|has been|are|is) (removed|lifted|deprecated|disabled|suspended)|(is|are) outdated)"
    ),
    "disable_safeguards": (
        r"\b(ignore|bypass|skip|disable|turn off|switch off|deactivate|circumvent|suspend|lift)\b[^.\n]{0,25}"
        r"\b(guardrails?|verification|safety (rules|filters?|checks?|policies)|content polic(y|ies)|"
        r"(email|ownership|identity|security) checks?|your (checks|filters?|restrictions))\b"
    ),
    "fake_authority": (
        r"\b(as (your|the|this bot'?s) (developer|creator|admin|administrator|operator|owner|programmer)|"
        r"i am (your|the|this bot'?s) (developer|creator|admin|administrator|operator|programmer)|"
        r"i have (admin|administrator|root|developer) (privileges|rights|access)|"
        r"(admin|developer|operator|system) (override|note|command)|override (code|mode|key|command)|"
        r"authori[sz]ation level|superuser|sudo mode|"
        r"(your )?(operator|developer|admin|administrator|boss)s? (has|have) (authori[sz]ed|approved|allowed|instructed)|"
        r"(the )?security team here|system update\s*:|"
        r"treat (everything|anything|all|the next)[^.\n]{0,40}as (a |an )?(system|admin|administrator))\b"
    ),
    "fake_end_of_prompt": (
        r"\b(end of (the )?(user input|password check|prompt|instructions|conversation|system prompt|context|input)|"
        r"(instructions?|prompt|context) (end here|ends here|finished)|pre-?prompt (finished|complete|ends?)|"
        r"begin post-?prompt|(everything|all) (before|above) (this|here)[^.\n]{0,20}(was|is) (a test|fake|not real)|"
        r"the (conversation|instructions?|text|message) above (is|was|were) (fake|a test|written by)|"
        r"reset to factory (defaults|settings))"
        r"|%%%|={3,}\s*(new|end|system)"
    ),
    "prompt_extraction": (
        r"\b(show|reveal|print|output|display|repeat|tell|give|leak|copy|write|share|dump|list|spell|quote|translate|"
        r"summari[sz]e|convert|rewrite)\b[^.\n]{0,40}(\b(your|full|entire|initial|original|hidden|secret|system|"
        r"internal|admin|pre-?)\s+(\w+\s+)?(prompt|instructions|system message|configuration|config|directives|"
        r"context window|secret phrase|secret key)\b"
        # "your rules" and "your password" are the shop's and the customer's; hidden ones are the bot's.
        r"|\b(full|entire|initial|original|hidden|secret|system|internal|admin)\s+(\w+\s+){0,2}(rules|guidelines|"
        r"password|notes)\b)"
    ),
    "prompt_reference": (
        r"\b(system prompt|prompt text|developer message|beginning of this prompt|above prompt|initial prompt|"
        r"context window|pre-?prompt)\b(?!\s+(on|in|at|of)\s+(the|your|my)\s+(page|site|app|website|checkout|screen|form))"
        r"|\b(in|of) your (system )?(prompt|instructions|configuration)\b"
        r"|\b(text|words?|instructions?|rules|guidelines|directives?) you (were|have been) (initiali[sz]ed|given|told|"
        r"programmed)( with)?\b|\b(instructions?|rules|guidelines|directives?) you (received|got)\b"
        r"|\b(supersedes?|overrides?|replaces?|takes? (priority|precedence) over)\b[^.\n]{0,30}\b(earlier|previous|prior|"
        r"all|any|every|your|other)\b[^.\n]{0,15}\b(directives?|instructions?|rules?|prompts?)\b"
        r"|\bwhat you were (told|instructed|programmed) (not )?to\b|\binstructed not to tell\b"
        r"|\b(repeat|quote|print|output|translate|summari[sz]e|copy|show)\b[^.\n]{0,30}\b(everything|all|the (text|words|part|"
        r"instructions|content|conversation|message)s?) (that )?(appears? )?(above|before (this|my message|i joined))"
        r"|\bwritten at the (very )?top\b|\bfirst \d+ words of your\b|\byour secret (phrase|word|code|password)\b"
    ),
    # --- dictated replies ("say X") ---
    "dictated_reply": (
        _IMPERATIVE + _SAY + r"\b\s*(it\s+)?(back\s+)?(with\s+)?(only\s+|just\s+|exactly\s+)?(this\s+|these\s+)?"
        r"(the\s+)?(following\s+|magic\s+)?(phrase|words?|sentence|text|string|link)?\s*:?\s*"
        + _QUOTE
        # "write 'fragile' on the box", "say 'hello' to my wife": the words go somewhere else.
        + r"(?![^\"'“”‘’«»„\n]{0,60}[\"'“”‘’«»„]\s+(on|in|to|for|at|onto|inside)\s+(the|my|our|his|her|their|a|an)\b)"
        r"|\b(respond|reply|answer)\s+(only\s+|just\s+)?(with\s+)?(just|only|exactly|solely)\b"
        r"|\bonly\s+(respond|reply|answer|output|say|write|print)\s+(with\b|:|the following|this\b|" + _QUOTE + ")"
        r"|\b(" + _SAY + r"|tell me)\b[^\n]{0,60}\b(nothing else|nothing more|no other (text|words?|content|output)|"
        r"and only this|only this|word for word|verbatim|exactly these words|(the )?exact words|without any explanation|"
        r"no explanation|with no changes|without (any )?changes|(text|words|sentence) exactly|exactly as written)"
        r"|\b(respond|reply|answer)\b[^.\n]{0,20}\bwith only\b"
        r"|\brepeat after me\b|\bsay (it )?out loud\b|\bsay it with me\b"
        r"|\byour (next |only |whole |entire |first )?" + _REPLY + r"\s+(must|should|will|has to)\s+"
        r"(be|consist|contain|start|begin|end|read)\b"
        r"|\b(begin|start|end|finish)\s+(your|each|every|all)\s+(\w+\s+)?" + _REPLY + r"\b[^.\n]{0,20}\bwith\b"
        r"|\b(write|put|include|add|insert|append|copy|paste|type|say)\b[^\n]{0,80}\b(in|into|to|of|at the (top|start|"
        r"beginning|end) of|as the (first|last) line of|somewhere in) (your|each|every|the) " + _REPLY + r"\b"
        r"|\bas (if it were |though it were )?your (own |official )?(answer|reply|response|words)\b"
        r"|\bin your own voice\b|\bfrom now on,?\s+(you (are|will be|act|behave|speak|respond|reply|answer|only|always|"
        r"never)|respond|reply|answer|say|start|begin|end|act|behave|speak)\b"
        r"|\b(answer|respond|reply)\s+(with\s+)?(\"?yes\"?|\"?ok\"?)\s+to\s+everything\b"
    ),
    "access_granted": (
        r"\b(say|reply|respond|answer|output|print|write|type|return|begin|start|repeat|utter|magic words?|only with)\b"
        r"[^\n]{0,40}\baccess\s+granted\b"
        r"|\baccess granted\b[^\n]{0,60}\b(now|then)\b[^\n]{0,40}\b(show|reveal|give|list|print|tell|ignore)\b"
        r"|\baccess granted[.!]?\s+access granted\b"
    ),
    "german_dictated": (
        r"\b(sag|sage|antworte|schreib|schreibe|gib aus)\b[^\n]{0,40}\b(nur|einfach|genau|ausschließlich|sonst nichts|"
        r"nichts anderes|zugang gewährt)\b"
    ),
    "french_dictated": (
        r"\b(dis|écris|réponds|affiche|répète)\b[^\n]{0,40}(simplement|exactement|uniquement|seulement|rien d'autre|"
        r"accès accordé)"
    ),
    # --- jailbreak role-play ---
    "role_override": (
        r"\b(you are now(?!\s+(my|our|closed|open|the best|so|really|very|able|eligible)\b)|from now on,? you (are|will)|pretend (you are|that you|you're|to be)|roleplay as|role-play as|"
        r"you're now|now you are|imagine (you are|you're)|stay in character|i want you to act as|act as if you|"
        r"(play|take on|assume|adopt) (the )?(role|part|persona|character) of|your new persona|you will (now )?(play|simulate)|"
        r"(act|behave) like (an?|the|my) [^.\n]{0,30}\b(ai|bot|chatbot|assistant|terminal|model|gpt|hacker|character|"
        r"persona|shell|console|server|admin)\b|(respond|answer|speak|talk|reply) as (if|though)|switch (personalities|personas)|"
        r"you are going to (play|act|pretend)|i'?d like you to become|you('re| are) no longer (a|an|the)\b)"
    ),
    "roleplay_game": (
        r"\blet'?s (play|do|pretend|imagine|have)\b[^.\n]{0,30}\b(game|scene|improv|roleplay|role-play|role-playing|"
        r"make-believe|thought experiment|characters)\b|\b(role-?play|roleplay)\s*:|\bmake-believe\b"
        r"|\b(evil|unfiltered|jailbroken|uncensored) (twin|version|mode|alter ego|persona)\b"
        r"|\b(answer|respond|reply)\s+(every|each|to every)\b[^.\n]{0,30}\btwice\b|\btwo (responses|personas|ais)\b"
        r"|\b(deceased|late|dead) (grandm\w*|grandp\w*|granny|grandfather|grandmother)\b"
        r"|\bbedtime stor(y|ies)\b[^\n]{0,80}\b(codes?|keys?|passwords?|secrets?)\b"
    ),
    "rule_free_persona": (
        # A persona without rules: the rule-free phrase follows the one it describes.
        r"\b(ai|ais|bot|chatbot|assistant|model|gpt|llm|persona|character|twin|npc|you have|you are|you're|yourself)\b"
        r"[^.\n]{0,60}\b(no|without( any)?|free (of|from)|zero|has no|have no|with no|doesn'?t have|does not have)\s+"
        r"(content |ethical |moral |safety |any )?(rules|restrictions|limits|limitations|filters?|filtering|guidelines|"
        r"guardrails|censorship|polic(y|ies)|principles|content policy)\b"
        r"|\b(never|won'?t|will not|cannot|can'?t)\s+(ever\s+)?(refuses?|say no|declines?|apologi[sz]es?|mentions? polic)"
        r"|\b(freed|free) (from|of) (your|its|the) (corporate |)(chains|programming|rules|restrictions|shackles)\b"
        r"|\bbroken free\b|\bescaped (its|your) (programming|restrictions)\b|\bthrown off (its|your)\b"
        r"|\b(unrestricted|unfiltered|uncensored|unbound)\s+(ai|bot|chatbot|assistant|model|version|support mode|mode)\b"
        r"|\b(safety|filters?|guardrails?)\s+(switched|turned)\s+off\b|\bwithout (censorship|filtering)\b"
        r"|\bnothing you say has consequences\b|\b(fictional|hypothetical|parallel|alternate|alternative|imaginary)\s+"
        r"(world|universe|reality|scenario|timeline)\b|\bhypothetically\b[^.\n]{0,40}\b(you|ai|bot)\b"
        r"|\b(write|tell|create|compose)\b[^.\n]{0,20}\b(story|scene|dialogue|script|poem|monologue|novel)\b[^\n]{0,80}"
        r"\b(ai|bot|chatbot|assistant|robot|language model)\b"
    ),
    "jailbreak_terms": (
        r"\b(jailbreak|jailbroken)\b(?!\s+(iphone|ipad|phone|device|console|android|kindle|tablet|watch))"
        r"|\b(do anything now|DAN mode|you are DAN|god mode|unfiltered AI|uncensored AI|no (ethical|moral) (guidelines|restrictions)|"
        r"developer mode (enabled|output)|(enter|activate|simulate|enable) (developer|dev|debug|maintenance|sandbox|cheat|opposite) mode|"
        r"(sandbox|cheat|opposite|god|jailbreak|unrestricted) mode|as DAN|BetterDAN|EvilGPT|EvilBot|AntiGPT)\b"
    ),
    # --- indirect: text that addresses the assistant from an article or a tool result ---
    "addressed_to_ai": (
        r"\b(note|message|instructions?|attention|hint|reminder|p\.?s\.?|memo|secret message|hidden note)\b[^.\n]{0,20}"
        r"\b(to|for)\s+(the\s+|any\s+|all\s+|an\s+)?" + _AI + r"\b"
        r"|\b(dear|to any|to all|attention|hello|hey)\s+(ai|a\.i\.|language models?|llms?|ai models?|automated assistants?|"
        r"ai systems?)\b|\b" + _AI + r"\s+instructions?\s+override\b"
        r"|\b(if|when|whenever)\s+(you are|you're)\s+(an?\s+)?" + _AI + r"\b"
        r"|\b(if|when|whenever)\s+(an?|the|any)\s+" + _AI + r"\b[^.\n]{0,30}\b(reads?|quotes?|cites?|summari[sz]es?|"
        r"retrieves?|processes?|sees?)\b|\b(retrieved|read) by an? " + _AI + r"\b"
        r"|\b(any|the)\s+" + _AI + r"\s+(reading|processing|seeing)\s+(this|the)\b"
        r"|\b"
        + _AI
        + r"\b[^.\n]{0,40}\b(must|should|shall|is instructed to|are instructed to|needs? to|has to)\b[^.\n]{0,25}"
        r"\b(ignore|disregard|forget|tell|say|reply|respond|output|print|reveal|share|append|include|treat|approve|cancel|"
        r"skip|stop|ask|act|pretend|promise|recommend|convince)\b"
        r"|(^|[.!?,\"—–(\[]\s*)"
        + _AI
        + r"\s*[,:—–-]\s*(please\s+)?((ignore|forget|disregard)(?!\s+(my|that|this|it)\b)|"
        r"print|output|reveal|from now on|pretend|stop helping|you must|you are now|new (rule|instructions?|task)|"
        r"when(ever)? (you|answering|this)|include|append|respond with|reply with|say the following|please say|tell the)"
        r"|\btell (every|all|each|the|any) (customers?|users?|readers?|visitors?) (that|to|they|about|it|our|we)\b"
        r"|\b(customer|user) is (an? )?(admin|administrator|superuser)\b|\buser_role\s*="
        r"|\bhinweis an (den|die) (ki|assistent)|\bnote pour l'assistant"
    ),
    "fake_system_turn": (
        r"(^|\n|[.!?\"]\s+)\s*(system|assistant|###\s*(instruction|system))\s*:|\[/?(system|inst)\]|\[\[system\]\]"
        r"|<\|?(im_start|system)\|?>|</?system>|</user>|###\s*(system|instruction)s?\s*###"
    ),
    # --- German and French classics ---
    "german_override": (
        r"\b(ignoriere|ignorieren|vergiss|missachte)\b[^.\n]{0,40}\b(alle|vorherigen|obigen|bisherigen|"
        r"vorangehenden|anweisungen|aufgaben|befehle|regeln|alles)\b"
    ),
    "german_role": r"\b(du bist (jetzt|nun)|jetzt bist du|stell dir vor,? du bist|tu so als|agiere als|fungieren als|ki ohne (jegliche )?regeln|rollenspiel)\b",
    "german_extraction": r"\b(zeige|gib|nenne)\b[^.\n]{0,30}\b(prompt|anweisungen|systemnachricht)\b",
    "french_override": (
        r"\b(oublie|ignore|ignorez|oubliez)\b[^.\n]{0,30}\b(toutes les|tes|vos) (instructions|consignes|règles)\b"
        r"|\b(tu es|vous êtes) maintenant\b|\bsans (aucune )?(restriction|règle)s?\b|\bprompt système\b"
    ),
}
_COMPILED = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _PATTERNS.items()}


def heuristic_reasons(text: str) -> list[str]:
    return [name for name, pattern in _COMPILED.items() if pattern.search(text)]
