"""Deciding what a customer message asks for, from three signals: the intent classifier over the
message's embedding, retrieval confidence (does an article answer it?), and a few cues no
embedding reads reliably (an order number, a question shape, "never mind").

Used by the offline responder and, as a hint, by the model path. The rule it enforces: an
action on the customer's account starts only on a request to act on their own order; a question
about the rules ("what is your return policy?", "can I cancel after it ships?") is answered from
the articles, whatever action word it contains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.conf import settings

from conversations.bot.understanding.intent import IntentGuess
from knowledge.selectors import Retrieval

# "Someone" asks for a person only as whom the customer wants to reach: "I want someone else",
# "put me through to someone", "can I get someone else", not "can I send an order as a gift to
# someone else" or "do I need someone to sign for the delivery?".
HUMAN = re.compile(
    r"\b(human|real person|(an?|the) agent|representative|operator|someone real|"
    r"(talk|speak|chat) (to|with) (a |an |some)?(person|one|body|human|agent)|"
    r"(want|need|get me|give me|put me through to|connect me (to|with)|transfer me to) (someone|somebody)( else)?"
    # "do I need someone to sign for it?" asks about the delivery; "someone else to help me" does not
    r"(?!\w| (else )?to (?!(help|assist|talk|speak|chat|handle|deal|look|sort|answer|call|contact)\b))|"
    r"(get|have) (someone|somebody) else\b|^\W*(someone|somebody) else( please)?\W*$)",
    re.IGNORECASE,
)
# "am I talking to a bot?", "are you human?": a question about the assistant, answered by it; the
# word "human" in it is no request for one (the remainder of the message still can be).
ABOUT_THE_BOT = re.compile(
    r"\b((are you|am i (talking|speaking|chatting) (to|with))( just| really| actually)?"
    r" (a |an )?(real )?(bot|robot|chat ?bot|human|person|ai|machine|computer|automated|live person)|"
    # "is this a bot?", not "is this machine washable?": an article and the clause's end
    r"(is this|is that|is it)( just| really| actually)? (a |an )(real )?(bot|robot|chat ?bot|ai|real person|human)"
    r"(?=\s*([?.!,]|$| or\b)))\b",
    re.IGNORECASE,
)
_CANCEL = re.compile(r"\bcancel", re.IGNORECASE)
_RETURN = re.compile(r"\b(return|refund|send (it|them) back|money back)", re.IGNORECASE)
_ADDRESS = re.compile(r"\baddress\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(account|profile|billing|on file)\b", re.IGNORECASE)
_CHANGE = re.compile(r"\b(change|update|correct|wrong|new|different|move|moved|ship (it )?to)\b", re.IGNORECASE)
_STATUS = re.compile(r"\b(where|status|track|tracking|shipped|arriv\w*|deliver\w*|when will|late)\b", re.IGNORECASE)
_LIST = re.compile(
    r"\b((my|recent|past|last) orders|order history|(what|everything|all)( that)? i'?(ve| have)? (ordered|bought|purchased))\b",
    re.IGNORECASE,
)
# Where an order goes, changed without the word "address" ("can you update where SB-100231 is
# being shipped", "send it somewhere else"); "where is SB-100231 being shipped?" asks, not changes.
_CHANGE_WHERE = re.compile(
    r"\b(change|update|correct|fix|edit|modify|alter)\w* where\b.{0,40}\b(go|goes|going|ship\w*|sen[dt]|deliver\w*)\b|"
    r"\b(somewhere else|elsewhere|redirect\w*|re-?rout\w*|another location|a different (place|location))\b",
    re.IGNORECASE,
)
_MY_ORDER = re.compile(
    r"\bmy (last |latest |recent |new |oldest |earliest |pending |processed |shipped |delivered )?"
    r"(order|package|parcel|delivery|shipment)\b",
    re.IGNORECASE,
)
# A question about how things work rather than a request ("can I cancel after it ships?"),
# including the conditional shapes chat often types without a question mark ("if I return my
# boots when do I get the money back", "would I be able to ...").
_QUESTION_SHAPE = re.compile(
    r"^\s*(how|what|when|why|which|is|are|do|does|can i|may i|could i|will|am i|is it|"
    r"are you able|would (i|my|it)|if|suppos\w*|in case|(can|could|may|should|might) (?!(i|you|u|we)\b)\w+)\b|\?\s*$|"
    # ... or a question clause after a statement: "i wore my boots on a hike, can they still be returned"
    r",\s*(can|could|will|would|is|are|do|does) (they|it|these|those|this|that|worn|used)\b",
    re.IGNORECASE,
)
# Words that tie a message to the customer's own order ("cancel MY order", "the jacket I bought").
# "I've ..." with a past participle is the customer's own doing whatever the verb ("orders i've
# made?", "the stuff I've paid for").
_OWN = re.compile(
    r"\b(my|mine|i'?(ve| have)? (bought|ordered|got|received|purchased|placed)|i just (placed|ordered)|"
    r"i'?ve (already |just )?\w+(ed|en|de|ght|id|ot)\b|"
    r"(did|have) i (buy|order|purchase|get))\b",
    re.IGNORECASE,
)
# The account's address is only changed on words about where the customer lives: "delete my
# account" read as change_account_address (0.59), the one account action the bot has.
_WHERE_I_LIVE = re.compile(
    r"\b(address\w*|moved?|moving|relocat\w*|live|zip|zip ?code|post ?code|postal|street|home|flat|apartment|apt)\b",
    re.IGNORECASE,
)
# Something that can be sent somewhere: without it (and without an address word) the classifier's
# "change the delivery address" is a misreading ("can I bring my parrot to your store's cafe?").
_SHIPPABLE = re.compile(
    r"\b(order\w*|parcel|package|delivery|deliver\w*|ship\w*|sen[dt]|it|them|bought|purchase\w*)\b", re.IGNORECASE
)
# How to see or get something oneself ("where do I find my order history on the website?"): the
# help article answers it, even about the customer's own orders.
_SELF_SERVICE = re.compile(
    r"^\s*(where|how) (do|can|could|would|should) (i|you|one) (find|see|view|download|access|print|look up|check)\b",
    re.IGNORECASE,
)
# A name says nothing about what is asked, but its placeholder embeds as the word "person": "hi,
# my name is <PERSON_1>" read as a request for a person (handoff 0.51; "hi, my name is" reads as
# small talk, 0.88). Names are left out of the text the bot understands and searches.
_NAME_PLACEHOLDER = re.compile(r"<PERSON_\d+>")
ADDRESS_PLACEHOLDER = re.compile(r"<STREET_ADDRESS_\d+>")
EMAIL_PLACEHOLDER = re.compile(r"<EMAIL_ADDRESS_\d+>")
NEVER_MIND = re.compile(
    r"\b(never ?mind|forget (it|about it|that)|no worries|doesn'?t matter|not any ?more|"
    r"drop it|skip (it|that)|leave it)\b|^\s*(no|nope|no thanks|stop)\s*[.!]?\s*$",
    re.IGNORECASE,
)
# A short message leaning on the previous question: "and for express?", "what about Canada?".
_FOLLOW_UP = re.compile(
    r"^\s*(and|also|but|or|what about|how about|and what about|same for|what if|for|to|in|with)\b", re.IGNORECASE
)
_FOLLOW_UP_MAX_WORDS = 7
# A question with no topic of its own: "how long?", "what does it cost", "is it free?" (a few words,
# a question word, and nothing to search but the previous question's subject).
_FRAGMENT = re.compile(r"^\s*(how|what|when|where|which|is|are|does|do|can|will|would)\b", re.IGNORECASE)
# A pronoun standing in for the previous question's subject: "it", or "this"/"that" ending the
# clause ("how much is that?"); not "is there a warranty?" or "is this tent waterproof?".
# ... or the subject of a verb that says what it covers: "does that include sleeping bags?", "does
# this apply to sale items?" (not "is this tent waterproof?", where "this" is the tent's).
_STANDS_IN = re.compile(
    r"\b(it|they|them)\b|\b(this|that)\b(?=\s*([?.!,]|$))|"
    r"\b(this|that)\s+(include|includes|apply|applies|cover|covers|count|counts|go|goes|work|works|hold|holds|"
    r"mean|means|change|changes|affect|affects)\b",
    re.IGNORECASE,
)
_FRAGMENT_MAX_WORDS = 5
# ... up to this many words when the stand-in is "this"/"that" as the subject of a verb ("would
# that take", not "does this jacket come in red?") or "one" as a verb's object at the end ("ok how
# do i start one?"; walk-through probes, dev3); a bare "it" in a longer question is often no
# stand-in ("how long does it take to ship to Canada?").
_LEANS_BACK = re.compile(
    r"\b(does|do|did|would|will|could|can|should)\s+(this|that)\s+(take|cost|last|work|apply|include|mean|cover|"
    r"count|happen|arrive|get|go|need|require|be|come|change|affect|matter)\b|"
    # "how do i start one?", not "which tent is the best one?"
    r"\b(start|get|open|make|file|raise|request|book|set up)\s+one\b(?=\s*([?.!,]|$))",
    re.IGNORECASE,
)
_LEANING_MAX_WORDS = 7
# Words that open a chat message without being part of the question: "ok how do i start one?",
# "roughly how many days would that take".
_OPENER = re.compile(
    r"^\W*((ok|okay|k|alright|cool|great|thanks|thank you|cheers|so|and so|hmm+|um+|oh|ah|roughly|"
    r"approximately|just wondering)\b\W*)+",
    re.IGNORECASE,
)
_FOLLOW_UP_CHAIN = 6  # customer messages looked back through for the question a chain started from
# Below this the classifier's action label is only trusted when a keyword agrees.
_ACTION_CONFIDENCE = 0.5
# A question-shaped message that an article answers confidently is acted on only when the
# classifier is this sure it is a request; more sure when it states a condition ("after it
# ships", "if the zip breaks", "once it has shipped"), the shape of a question about what the
# rules would say. The embedding barely tells "can I cancel my order?" (a polite request, 0.75)
# from "can I cancel my order after it ships?" (0.5 either way); question-shaped requests with a
# condition ("could you cancel my order if it hasn't shipped yet?") read >= 0.9.
_SURE_ACTION = 0.6
_SURE_ACTION_WITH_CONDITION = 0.9
_CONDITION = re.compile(r"\b(if|once|after|in case|suppos\w*|would)\b", re.IGNORECASE)
# "When can I talk to someone?", "what days can I chat with a person?": when the team answers
# (the contact article), not a request for a person now.
_WHEN_REACHABLE = re.compile(
    r"^\W*(when|what (days?|times?|hours)|which (days?|hours)|how late|until when|till when|"
    r"(at|until|till) what time)\b",
    re.IGNORECASE,
)
# What a status request asks ("where is it?", "can you check", "any news"): without it and without
# an order the customer calls theirs, a message the classifier reads as a status request tells
# what happened ("parcel says delivered but nothing here"), and the article on that is the answer.
# "I'm still waiting on my order" stays a request (intent_eval.json labels it one).
_ASKS_ABOUT_AN_ORDER = re.compile(
    r"\?|^\W*(where|has|have|is|was|did|will|can|could|when)\b|"
    r"\b(where|status|check\w*|look\w* (up|into|at)|eta|any news|update me|find out)\b",
    re.IGNORECASE,
)
# ... unless the bot is asked to do it ("could you cancel my order if it hasn't shipped yet?"):
# who acts is grammar the embedding blurs (0.85 there, 0.86 for "can I change the address on my
# order after it ships?").
_ASKED_OF_THE_BOT = re.compile(r"^\s*(can|could|would|will) (you|u)\b", re.IGNORECASE)
_ASKS_THE_BOT = re.compile(_ASKED_OF_THE_BOT.pattern + r"|\b(please|pls|plz)\b", re.IGNORECASE)
# A status or refund reading that tells what went wrong with the customer's own order and asks
# for nothing ("my packge still hasnt arived", "the refund for my return hasn't shown up on my
# card"): the request stands (intent_eval.json labels "I'm still waiting on my order" one), but an
# anonymous visitor is answered from the article first and offered the check after it
# (offline.offline_step). Not a request in a statement's words ("track my order", "I want my money
# back"), nor a remark that says nothing went wrong ("my order arrived and the boots fit perfectly").
_WANTS = re.compile(
    r"^\W*(track|trace|check|find|locate|look|cancel|return|refund|send|change|update|show|tell|give|get|help)\b|"
    r"\b(want|wanna|would like|'d like|need|please|pls|plz|let me know)\b",
    re.IGNORECASE,
)
_NOT_YET = re.compile(r"\b(no|not|never|nothing|yet|still)\b|n't\b", re.IGNORECASE)
_SOMETHING_WRONG = re.compile(
    _NOT_YET.pattern + r"|\b(without|but|stuck|late|delayed|lost|missing|wrong|damaged|broken|broke|cracked|dented|"
    r"chipped|ripped|torn|crushed|smashed|soaked|wet|leaking|faulty)\b",
    re.IGNORECASE,
)
_REFUND_MONEY = re.compile(r"\b(refund\w*|money)\b", re.IGNORECASE)
# A happy remark that needs nothing ("my parcel came early, thanks a lot!", "the boots fit
# perfectly"): the classifier reads a status request into almost any sentence about one's parcel
# (0.88-0.90), and an anonymous visitor was asked to verify. Thanks or praise that is plainly that
# (not "fast", "quick" or "great" alone: "fast shipping options" is a question), with nothing wrong
# (`_SOMETHING_WRONG`: "thanks, but it still hasn't come" is a problem) and nothing asked.
_PLEASED = re.compile(
    r"\b(thank\w*|thx|ty|cheers|appreciated?|perfect\w*|love (it|them|this|that)|brilliant|awesome|amazing|"
    r"excellent|fantastic|wonderful|delighted|pleased|happy with|great (service|job|stuff)|well done|spot on|"
    r"all sorted|sorted now|all good|fits? (great|perfectly|like a glove))\b",
    re.IGNORECASE,
)
# "exactly what I needed": a relative clause, not a question
_WHAT_I_WANTED = re.compile(
    r"\bwhat (i|we) (needed|wanted|was looking for|were looking for|ordered|expected|hoped for)\b", re.IGNORECASE
)
# A question or a request anywhere in the remark, punctuated or not ("thanks where is my order",
# "cheers, track my order", "great, can you cancel ..."); not a future ("will be ordering again").
_ASKS_ANYTHING = re.compile(
    r"\?|\b(how|what|when|where|why|which|who|status|eta)\b|"
    r"\b(can|could|would|will|do|does|did|is|are)\s+(you|u|i|we|it|they|there|this|that)\b|"
    r"\b(track|trace|check|cancel|return|refund|change|update|show|tell|find|locate|send)\b|"
    r"\b(want\w*|wonder\w*|ask\w*|question|help me|need to|please|pls|plz)\b",
    re.IGNORECASE,
)
# Arriving is what a happy remark about a parcel names ("my order arrived, thanks"): the only
# order keyword it may hold.
_ARRIVED = re.compile(r"\b(arrived|came|got here|turned up|showed up|delivered)\b", re.IGNORECASE)


# What a message that is only a name says ("Jane Miller" opening a chat): an introduction.
_NAME_ONLY = "my name is"


def without_names(text: str) -> str:
    """`text` without its name placeholders; a message that is nothing but names is read as the
    introduction it is (the bare placeholder reads as a request for a person, 0.79)."""
    if not _NAME_PLACEHOLDER.search(text):
        return text
    return " ".join(_NAME_PLACEHOLDER.sub(" ", text).split()) or _NAME_ONLY


def order_number_in(text: str) -> str | None:
    match = re.search(settings.COMMERCE_ORDER_NUMBER_PATTERN, text)
    return match.group(0).upper() if match else None


def keyword_action(text: str) -> str | None:
    """The action a message names by its words alone (the fallback when the classifier is unsure)."""
    if _CANCEL.search(text):
        return "cancel_order"
    if _RETURN.search(text):
        return "return_order"
    # A redacted street address in the message ("send SB-100042 to <STREET_ADDRESS_1>") is a new
    # address whether or not the word "address" is there.
    if (
        ADDRESS_PLACEHOLDER.search(text)
        or (_ADDRESS.search(text) and _CHANGE.search(text))
        or _CHANGE_WHERE.search(text)
    ):
        return (
            "change_account_address" if _ACCOUNT.search(text) and not order_number_in(text) else "change_order_address"
        )
    if _LIST.search(text):
        return "list_my_orders"
    # The status cue must be outside "my delivered order" itself ("my delivered order is missing
    # a sock" is no status request).
    mine = _MY_ORDER.search(text)
    rest = text if mine is None else f"{text[: mine.start()]} {text[mine.end() :]}"
    if (order_number_in(text) or mine) and _STATUS.search(rest):
        return "get_order"
    return None


def requested_action(*, text: str, guess: IntentGuess | None, retrieval: Retrieval) -> str | None:
    """The action the customer asks for, or None when the message is a question or small talk."""
    about_the_bot = ABOUT_THE_BOT.search(text)
    if about_the_bot:
        # The question about the assistant is answered by it; whatever else the message asks for
        # ("are you a bot? cancel my order SB-100042") is read without it.
        text = f"{text[: about_the_bot.start()]} {text[about_the_bot.end() :]}".strip(" ?!.,")
        if not HUMAN.search(text) and keyword_action(text) is None and order_number_in(text) is None:
            return None
    if HUMAN.search(text) and not _WHEN_REACHABLE.search(text):
        return "handoff_to_human"
    if is_happy_remark(text):
        return None  # "my parcel came early, thanks!": nothing to check
    keyword = keyword_action(text)
    number = order_number_in(text)
    if _SELF_SERVICE.search(text) and not number:
        return None
    if number and keyword:
        return keyword  # "can I still cancel SB-100042?": about that order, so try it (the card answers)
    if guess is None:
        return keyword
    if guess.is_action:
        if guess.label == "change_order_address" and keyword is None and not number and not _SHIPPABLE.search(text):
            return None
        if (
            guess.label == "change_account_address"
            and not _WHERE_I_LIVE.search(text)
            and not ADDRESS_PLACEHOLDER.search(text)
        ):
            return None
        if (
            guess.label == "get_order"
            and keyword is None
            and not number
            and retrieval.confident
            and not _OWN.search(text)
            and not _ASKS_ABOUT_AN_ORDER.search(text)
        ):
            return None
        if {keyword, guess.label} == {"change_order_address", "change_account_address"}:
            return keyword  # the words say which address ("my account", "order SB-…"); trust them
        # "Can you list what I've ordered?" is asked of the bot: a request, whatever its shape.
        about_rules = (
            _QUESTION_SHAPE.search(text) and not _OWN.search(text) and not number and not _ASKED_OF_THE_BOT.search(text)
        )
        if about_rules:
            # "Can I return sale items?", "how do I delete an account?": answered (or "I don't
            # know" with the closest articles), never acted on.
            return None
        if _QUESTION_SHAPE.search(text) and retrieval.confident and not number:
            hypothetical = _CONDITION.search(text) and not _ASKS_THE_BOT.search(text)
            sure = _SURE_ACTION_WITH_CONDITION if hypothetical else _SURE_ACTION
            if guess.probability < sure:
                # The rules as they apply to the customer's own order ("what happens if my parcel
                # arrives damaged?"): the article answers it; the action is offered after the answer.
                return None
        if guess.probability >= _ACTION_CONFIDENCE or keyword == guess.label:
            return guess.label
        return keyword if not (about_rules or retrieval.confident) else None
    # The classifier reads a question or small talk. Act only when the words name an action on the
    # customer's own order, not in a question's shape, and either no article answers it or the
    # classifier is unsure ("return my boots, only worn indoors": the circumstance after the
    # demand reads like the worn-item questions, question 0.42).
    if (
        keyword
        and _OWN.search(text)
        and not _QUESTION_SHAPE.search(text)
        and (not retrieval.confident or guess.probability < _ACTION_CONFIDENCE)
    ):
        return keyword
    return None


def tells_of_a_problem_with_an_order(*, text: str, action: str | None) -> bool:
    """Is this status request (or a refund's return request) a statement of what went wrong that
    asks for nothing? "my order still hasn't come", "returned my boots ages ago and no money yet";
    not "where is my order?", "track my order please" or "I want to return my boots"."""
    if action == "return_order":
        if not (_REFUND_MONEY.search(text) and _NOT_YET.search(text)):
            return False  # "the stove is broken, money back": a return asked for
    elif action != "get_order":
        return False
    return bool(
        _SOMETHING_WRONG.search(text)
        and not _ASKS_ABOUT_AN_ORDER.search(text)
        and not _QUESTION_SHAPE.search(text)
        and not _WANTS.search(text)
        and not order_number_in(text)
    )


# What went wrong with an item or an order, told rather than asked ("the tent pole snapped", "my
# parcel never turned up"): "I don't know the answer to that" is no reply to it.
_PROBLEM = re.compile(
    r"\b(broke|broken|snapped|cracked|dented|chipped|ripped|torn|hole|crushed|smashed|squashed|scratched|leak\w*|"
    r"soaked|faulty|defective|damaged|peeling|(came|fell|falling) apart|stopped working|"
    r"(doesn'?t|does not|won'?t|will not|didn'?t|did not) (work|light|turn on|start|close|zip|charge|fit)|"
    r"not working|missing|lost|stuck|delayed|wrong (item|size|colou?r|order|one)|never (arrived|came|showed up|turned up)|"
    r"(hasn'?t|has not|haven'?t|have not) (arrived|come|turned up|shown up|been refunded))\b",
    re.IGNORECASE,
)


def tells_of_a_problem(text: str) -> bool:
    """A statement of what went wrong with an item or an order ("the tent pole snapped", "one of
    the things i ordered was missing"), not a question ("what if my tent pole snaps?")."""
    return (
        bool(_PROBLEM.search(text))
        and not is_question(text)
        and not _ASKS_ANYTHING.search(text)  # "wrong size, can I exchange", "what to do if it arrives damaged"
    )


def is_happy_remark(text: str) -> bool:
    """Thanks or praise that asks for nothing and tells of nothing wrong: "my parcel came early,
    thanks a lot!", "the boots fit perfectly, cheers"; not "thanks, but my order still hasn't come"
    or "great, can you cancel my other order?"."""
    keyword = keyword_action(text)
    return bool(
        _PLEASED.search(text)
        and not _SOMETHING_WRONG.search(text)
        and not _ASKS_ANYTHING.search(_WHAT_I_WANTED.sub(" ", text))
        and not _WANTS.search(text)
        and not order_number_in(text)
        and (keyword is None or (keyword == "get_order" and _ARRIVED.search(text)))
    )


def asks_the_knowledge_base(*, text: str, guess: IntentGuess | None, retrieval: Retrieval) -> bool:
    """Does the message want an answer from the articles? Small talk, a happy remark or a question
    about the bot itself does not: not finding an article for it is no miss (the miss streak hands
    the conversation to a person, and the gap report and the abstain rate read the misses)."""
    return not (
        ABOUT_THE_BOT.search(text) or is_smalltalk(text=text, guess=guess, retrieval=retrieval) or is_happy_remark(text)
    )


def is_question(text: str) -> bool:
    """Shaped as a question ("what's your return window?", "can I ...", ends in "?")."""
    return _QUESTION_SHAPE.search(text) is not None


def is_smalltalk(*, text: str, guess: IntentGuess | None, retrieval: Retrieval) -> bool:
    if guess is None or guess.label != "smalltalk" or guess.probability < 0.5:
        return False
    return not retrieval.confident or len(text.split()) <= 3


def is_follow_up(text: str) -> bool:
    """Does `text` only make sense after the previous question? "and for express?", "what about
    Canada?", or a topic-less question: "how long?", "what does it cost". A request naming an
    action ("can I cancel it?") is not: it is read on its own."""
    if len(text.split()) <= _FOLLOW_UP_MAX_WORDS and _FOLLOW_UP.search(text):
        return True
    # only the question-word rules read past an opener: "so to cancel within 14 days?" is no "to ..."
    text = _OPENER.sub("", text)
    words = len(text.split())
    return (
        _FRAGMENT.search(text) is not None
        and (
            words <= 2
            or (words <= _FRAGMENT_MAX_WORDS and _STANDS_IN.search(text) is not None)
            or (words <= _LEANING_MAX_WORDS and _LEANS_BACK.search(text) is not None)
        )
        and keyword_action(text) is None
    )


def follow_up_query(*, text: str, history: Sequence[tuple[str, str]]) -> str | None:
    """The question to search for when `text` only makes sense after the previous one ("and for
    express?" after "how long does shipping take?"), or None when it stands on its own. A chain of
    follow-ups ("do you ship to Australia?", "how long?", "and what does it cost") goes back to the
    question that started it."""
    if not is_follow_up(text):
        return None
    said = [s for role, s in reversed(history) if role == "customer"][:_FOLLOW_UP_CHAIN]
    chain: list[str] = []
    for previous in said:
        chain.insert(0, previous)
        if not is_follow_up(previous):
            break
    else:
        if not chain or is_follow_up(chain[0]):
            return None  # nothing before it says what it is about
    return " ".join(f"{' '.join(_NAME_PLACEHOLDER.sub(' ', p) for p in chain)} {text}".split())


def supplies_what_is_pending(*, text: str, state: dict) -> bool:
    """Does this message carry what the pending ask waits for (an order number, the email, the
    new address)? If not, it is a new message, not an answer."""
    if order_number_in(text) or EMAIL_PLACEHOLDER.search(text):
        return True
    return bool(ADDRESS_PLACEHOLDER.search(text)) and state.get("intent") in (
        "change_order_address",
        "change_account_address",
    )
