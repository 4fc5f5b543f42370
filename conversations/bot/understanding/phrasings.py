"""Training phrasings for the intent classifier, written from templates here.

The split that matters is between a question about a policy that happens to use an action word
("what is your return policy?", "can I cancel after it ships?") and a request to act on the
customer's own order ("cancel my order", "I want to send the boots back"). Both sides are written
with the same action words on purpose, so the classifier learns the difference from the shape of
the sentence rather than from the words.

Nothing here is copied from an evaluation set: the held-out phrasings the classifier is measured
on (conversations/bot/understanding/intent_eval.json, split "test") were written separately, in
other shapes, and are never trained on.
"""

from __future__ import annotations

from itertools import product

QUESTION = "question"
SMALLTALK = "smalltalk"
ACT_INTENTS = (
    "get_order",
    "list_my_orders",
    "cancel_order",
    "return_order",
    "change_order_address",
    "change_account_address",
    "handoff_to_human",
)
LABELS = (QUESTION, SMALLTALK, *ACT_INTENTS)

_ORDER_REFS = [
    "my order",
    "the order",
    "my last order",
    "order SB-100042",
    "SB-100231",
    "my package",
    "the jacket I ordered",
    "my recent order",
    "the boots I bought",
    "it",
    "my parcel",
    "the tent I ordered",
]


def _fill(templates: list[str], **slots: list[str]) -> list[str]:
    out: list[str] = []
    for template in templates:
        names = [name for name in slots if "{" + name + "}" in template]
        if not names:
            out.append(template)
            continue
        for values in product(*(slots[name] for name in names)):
            out.append(template.format(**dict(zip(names, values))))
    return out


_POLICY_TOPICS = [
    "returns",
    "refunds",
    "cancellations",
    "exchanges",
    "shipping",
    "delivery",
    "express shipping",
    "international shipping",
    "the warranty",
    "gift cards",
    "price adjustments",
    "payment methods",
    "order changes",
    "address changes",
    "lost parcels",
    "tracking",
]
_QUESTION_TEMPLATES = [
    "what is your {topic} policy",
    "what's your policy on {topic}",
    "how do {topic} work",
    "tell me about {topic}",
    "explain your {topic} policy",
    "info on {topic} please",
    "{topic} policy?",
    "do you have a policy on {topic}",
    "where can I read about {topic}",
    "how does {topic} work at your store",
]
_POLICY_QUESTIONS = [
    # action words used as questions about rules and timing, never as requests
    "how long do I have to return something",
    "can I return an item after 30 days",
    "can I return sale items",
    "do I need the receipt to return something",
    "is return shipping free",
    "how long does a refund take",
    "when will I get my money back after a return",
    "how do refunds work",
    "do you refund shipping costs",
    "can I get a refund on a gift card",
    "can I cancel an order after it ships",
    "can orders be cancelled once shipped",
    "until when can I cancel an order",
    "is there a fee to cancel an order",
    "how do I cancel an order",
    "how do I return an item",
    "how do I change the shipping address on an order",
    "can I change my address after ordering",
    "can I change the delivery address once it has shipped",
    "how do I update my account details",
    "how long does delivery take",
    "how long does shipping take",
    "when will my order arrive if I order today",
    "how fast is express shipping",
    "do you ship to canada",
    "do you ship internationally",
    "do you deliver to the uk",
    "how much does shipping cost",
    "is shipping free",
    "what carriers do you use",
    "how do I track an order",
    "what if my parcel is late",
    "what happens if my package is lost",
    "do you offer exchanges",
    "can I exchange for a different size",
    "what payment methods do you accept",
    "do you take paypal",
    "why was my payment declined",
    "do you price match",
    "do gift cards expire",
    "how do I reset my password",
    "how do I delete my account",
    "is there a warranty on tents",
    "how do I care for my tent",
    "how do I find my size",
    "where can I see my invoices",
    "how do I contact a person",
    "what are your opening hours",
    "do you have a physical store",
    "are your jackets waterproof",
    "what is the warranty on boots",
    "can I return shoes I wore outside",
    "what if I get the wrong item",
    "can I get a refund instead of store credit",
    "how many days do returns take to process",
    "do you refund to the original card",
    "what does express cost",
    "does standard shipping include weekends",
    "can I pick up my order in store",
    "how are refunds issued",
    "what is the refund timeline",
    "what's the return window",
    "return window?",
    "refund time?",
    "shipping to canada?",
    "express shipping cost?",
    "cancel after shipping?",
    "exchange policy?",
    "warranty?",
    "delivery time?",
    "how long until refund",
    "how long to ship",
    "returns free?",
    "do returns cost anything",
    "if I cancel will I be charged",
    "what happens when I cancel an order",
    "can you explain how returning works",
    "is it possible to return a used item",
    "are refunds possible for damaged goods",
    "what's the process for sending something back",
    "what do I do to send an item back",
    "in general how long do deliveries take",
    "what's the usual delivery time",
    "typical shipping time",
    "hw long does shiping take",
    "retrun policy",
    "whats ur refund policy",
    "can u ship to mexico",
    "how long do refunds tkae",
    "do you deliver on saturdays",
    "is there express delivery",
]
# "Can I cancel after it ships?" is a question about the rules, however much it sounds like a
# request: general objects ("an order", "items") and conditions ("after", "without") mark it.
_CONDITIONAL_TEMPLATES = [
    "can I {verb} {condition}",
    "is it possible to {verb} {condition}",
    "am I allowed to {verb} {condition}",
    "are you able to {verb} {condition}",
    "could I {verb} {condition}",
    "what if I want to {verb} {condition}",
]
_CONDITIONAL_VERBS = [
    "cancel an order",
    "cancel",
    "return an item",
    "return things",
    "get a refund",
    "exchange something",
    "change the delivery address",
    "return sale items",
    "send something back",
]
_CONDITIONS = [
    "after it ships",
    "once it has shipped",
    "after 30 days",
    "without a receipt",
    "if it was a gift",
    "if I already wore it",
    "on custom orders",
    "after delivery",
    "from abroad",
    "at all",
]
# Questions about everything else a shop's help center covers, so that "question" is not just
# "question about orders" to the classifier; and questions about the customer's own refund or
# charge timing, which the policy answers better than a lookup.
_GENERAL_SUBJECTS = [
    "my account",
    "an account",
    "my password",
    "my card",
    "a payment",
    "gift cards",
    "a promo code",
    "sizes",
    "boots",
    "a tent",
    "a jacket",
    "the warranty",
    "my data",
    "a store",
    "a newsletter",
    "my invoice",
    "rewards points",
    "a price drop",
    "a coupon",
]
_GENERAL_TEMPLATES = [
    "how do I {v} {s}",
    "how can I {v} {s}",
    "what do I do to {v} {s}",
    "is there a way to {v} {s}",
    "where do I {v} {s}",
    "can you explain how to {v} {s}",
]
_GENERAL_VERBS = ["delete", "reset", "use", "find", "choose", "clean", "claim", "apply", "check", "redeem", "update"]
_TIMING_QUESTIONS = [
    "when will my refund arrive",
    "how long until my refund shows up",
    "when does my card get charged",
    "when is my card charged",
    "how long does my refund take",
    "when do I get my money back",
    "why was my card declined",
    "why did my payment fail",
    "when will the refund hit my account",
    "how long will my refund take to process",
    "how many days for my refund",
    "when will I be charged",
]
# Questions that talk about orders without asking to see one's own: what others buy, where the
# history lives, who can see it. "What have I ordered?" lists; these are answered (or not known).
_ORDERS_IN_GENERAL = [
    "which products are trending right now",
    "what gear do hikers usually buy from you",
    "recommend something people like ordering for winter",
    "what's the top rated sleeping bag",
    "is there a limit on how many items one order can have",
    "how do I place an order",
    "can I order by phone",
    "what's the minimum order for free shipping",
    "do orders from the sale ship separately",
    "is there a page in my account with past purchases",
    "how long are invoices kept",
    "is my purchase data shared with partners",
    "how do I print a receipt for an order",
    # what others buy, and privacy: "my" without asking to see one's own
    "what do customers usually buy",
    "what do campers buy most often",
    "which tent do shoppers pick most",
    "what's your best selling product",
    "who can see my order history",
    "do you share my purchase history",
    "is my order history visible to other people",
    "do you sell my shopping data",
    "where on the site do I find my order history",
    "how can I see my orders in the app",
    "where do I look up my invoices",
    # who else sees one's orders: a privacy question, however much it says "what I ordered"
    "can anyone else see my purchases",
    "are the things I buy visible to other shoppers",
    "do other people get to see my orders",
    "will my friends see what I bought on your site",
    "could another customer look at my order history",
    "is the list of things I ordered private",
]
_OTHERS = ["customers", "shoppers", "campers", "most people", "hikers"]
_OTHERS_BUY = [
    "what do {others} order",
    "what do {others} usually buy from you",
    "which items do {others} order the most",
    "what are {others} buying this month",
    "which jacket do {others} pick",
]
# The destination of an order asked about, not changed: a status lookup ("where is SB-100231
# being shipped?"), beside the requests to change it in _CHANGE_ORDER_ADDRESS.
_DESTINATION_LOOKUPS = [
    "which address is on {ref}",
    "can you confirm the delivery address of {ref}",
    "where will {ref} be dropped off",
    "tell me the shipping address for {ref}",
    "what destination does {ref} have",
    "to which address was {ref} sent",
]
# Returns of worn or used things: the policy says what can go back, so asked about they are
# questions; the act side (_WORN_RETURN_REQUESTS) asks to return the customer's own.
_WORN_ITEMS = ["boots", "shoes", "a jacket", "a sleeping bag", "a tent", "trainers", "a backpack", "gloves"]
_WORN_QUESTIONS = [
    "does the return policy cover {item} that's been worn",
    "will you accept {item} back after it's been used",
    "is there an exception for {item} worn outdoors",
    "do returns apply to {item} with signs of use",
    "how about returning {item} I already used",
    "I've had {item} out on a trail, is it still returnable",
]
_WORN_RETURN_REQUESTS = [
    "{own} fell apart after a day of use, I want my money back",
    "please process a return on {own} even though I wore it",
    "I'd like to send {own} back, it was used briefly but it's defective",
    "start a return for {own}, it's been worn but the sole is coming off",
    "{own} leaks after one trip, take it back and refund me",
    # a short circumstance after the request, or the story first and the demand last: still a
    # request, though the words around it are those of the worn-item questions (issue 12, test2)
    "take back {own}, I only wore it around the house",
    "return {own} please, barely used",
    "refund {own}, used it twice and the seam went",
    "I wore {own} for a day and it fell apart, give me a refund",
    "I took {own} camping once and it ripped, I want my money back",
    "{own} split after one walk, send me a return label",
    "I had {own} out for a weekend and it broke, refund please",
]
# Hard negatives: the rules as they would apply to the customer's own order ("can I cancel my
# order after it ships?", "what happens if my parcel turns up broken?"). They say "my" like a
# request but ask what would happen, so they are answered from the policy; the act-side
# templates below (_OWN_ORDER_REQUESTS) use the same words as statements and demands.
_OWN_REFS = [
    "my order",
    "my parcel",
    "my package",
    "my boots",
    "my jacket",
    "my tent",
    "the jacket I bought",
    "my last order",
]
_OWN_HYPOTHETICALS = [
    "can I cancel {own} after it ships",
    "can I still cancel {own} once it has been sent",
    "could I cancel {own} if it already left the warehouse",
    "is it too late to cancel {own} once it ships",
    "what happens if {own} turns up broken",
    "what happens if {own} gets lost",
    "what happens if I cancel {own}",
    "what happens to the money if I return {own}",
    "what if {own} comes late",
    "what if {own} is the wrong size",
    "if I send {own} back, when is the refund paid",
    "if I return {own} how long until I see the money",
    "if {own} arrives damaged can I get a replacement",
    "if {own} doesn't fit can I swap it",
    "if {own} is lost do I get a refund",
    "would I be able to change the delivery address once {own} has shipped",
    "would {own} be covered by the warranty",
    "would I get a full refund if I returned {own}",
    "would I pay for return shipping on {own}",
    "could I change where {own} goes after it ships",
    "how long will the refund for {own} take",
    "how long will it take to get my money back for {own}",
    "how long would a return of {own} take",
    "will I get my shipping cost back if I return {own}",
    "will {own} be covered if a seam rips",
    "is {own} under warranty if the zip fails",
    "is {own} still returnable after 30 days",
    "am I able to return {own} if I wore it once",
    "can {own} be returned after a month",
    "can {own} be exchanged for another size",
    "do I have to pay to send {own} back",
    "do I get a refund if {own} arrives late",
    "when would I get my money back if I returned {own}",
    "suppose {own} is damaged, what do I do",
    "in case {own} never arrives what happens",
]
_OWN_ORDER_REQUESTS = {
    "cancel_order": [
        "cancel {own} before it ships",
        "please cancel {own}, it has not been sent yet",
        "I want to cancel {own} now",
        "cancel {own}, I don't want it any more",
        # A bare "can I ...?" about one's own order is a polite request; a condition ("after it
        # ships", "if ...") makes it a question about the rules (_OWN_HYPOTHETICALS).
        "can I cancel {own}",
        "could I cancel {own} please",
        # Asked of the bot ("can you ..."), a condition is part of the request, not a hypothetical.
        "could you cancel {own} if it hasn't shipped yet",
        "can you cancel {own} before it ships",
    ],
    "return_order": [
        "{own} turned up broken, I want to return it",
        "{own} arrived damaged, please refund me",
        "I want to return {own} and get my money back",
        "please start a return for {own}, it doesn't fit",
        "the zip on {own} failed, I want to send it back",
        "I'm sending {own} back, I want a refund",
        "can I return {own}",
        "could I send {own} back please",
        "can you start a return for {own} if it doesn't fit",
    ],
    "change_order_address": [
        "change the delivery address of {own} before it ships",
        "please change where {own} goes, I moved",
        "send {own} to my new address instead",
        "can I change the address on {own}",
        "can you change the address on {own} if it hasn't shipped",
    ],
    "get_order": [
        "{own} is late, where is it",
        "{own} never arrived, can you check on it",
        "{own} got lost, please look into it",
        "where is {own}, it should have come by now",
    ],
}
_SMALLTALK = [
    "hi",
    "hello",
    "hey",
    "hi there",
    "hello!",
    "good morning",
    "good evening",
    "hey there",
    "yo",
    "hiya",
    "thanks",
    "thank you",
    "thanks a lot",
    "thank you so much",
    "cheers",
    "great, thanks",
    "perfect thank you",
    "ok",
    "okay",
    "cool",
    "got it",
    "alright",
    "that helps",
    "awesome",
    "bye",
    "goodbye",
    "have a nice day",
    "ok thanks bye",
    "nice",
    "sounds good",
    "you're great",
    "how are you",
    "are you a bot",
    "who are you",
    "what can you do",
    "what can you help with",
    "lol",
    "hmm",
    "yes",
    "no",
    "sure",
    "great",
]

_GET_ORDER = [
    "where is {ref}",
    "where's {ref}",
    "has {ref} shipped",
    "has {ref} shipped yet",
    "track {ref}",
    "what's the status of {ref}",
    "status of {ref}",
    "when will {ref} arrive",
    "when is {ref} coming",
    "is {ref} on its way",
    "can you check on {ref}",
    "any update on {ref}",
    "{ref} hasn't arrived yet",
    "I'm still waiting for {ref}",
    "did {ref} ship",
    "tracking number for {ref}",
    "is {ref} delayed",
    "can you tell me where {ref} is",
    "look up {ref} please",
    "check {ref} for me",
]
_LIST = [
    "what are my orders",
    "show me my orders",
    "list my orders",
    "my orders",
    "my order history please",
    "show my recent orders",
    "what did I order",
    "which orders do I have",
    "can you pull up my orders",
    "I want to see my orders",
    "what have I bought",
    "show me what I ordered",
    "my purchases",
    "all my orders",
    "do I have any open orders",
    "what orders are on my account",
    "list everything I ordered",
    "past orders",
    # asked of the bot, and in the past tense: still a request to look (issue 12, 2026-12-02)
    "would you look up my orders",
    "I need an overview of my purchases",
    "what have I purchased from your store",
    "tell me which items I've bought before",
    "give me my order list",
    "look up everything on my account I paid for",
    "what's in my order history",
    "do you have a record of what I bought",
    "recap my orders for me",
    "what were my last purchases",
    "which products did I get from you in the past",
    "could you check what orders I've got",
    "pls show my order list",
    "wht are my ordrs",
]
_CANCEL = [
    "cancel {ref}",
    "please cancel {ref}",
    "I want to cancel {ref}",
    "I'd like to cancel {ref}",
    "can you cancel {ref}",
    "I need to cancel {ref}",
    "cancel {ref} please",
    "I changed my mind, cancel {ref}",
    "stop {ref} from shipping",
    "I don't want {ref} anymore, cancel it",
    "could you cancel {ref} for me",
    "help me cancel {ref}",
    "I ordered by mistake, please cancel",
    "cancel it",
    "cancel my order",
    "kill {ref}",
    "I wanna cancel {ref}",
    "pls cancel {ref}",
    "i need {ref} cancelled",
]
_RETURN = [
    "return {ref}",
    "I want to return {ref}",
    "I'd like to return {ref}",
    "please return {ref}",
    "I want a refund for {ref}",
    "refund {ref} please",
    "I need to send {ref} back",
    "can you start a return for {ref}",
    "I'd like my money back for {ref}",
    "{ref} doesn't fit, I want to return it",
    "help me return {ref}",
    "start a return",
    "I want to return my order",
    "give me a refund for {ref}",
    "process a return for {ref}",
    "I want to send back {ref}",
    "return it please",
    "i wanna return {ref}",
    "{ref} is broken, refund me",
]
_CHANGE_ORDER_ADDRESS = [
    "change the address on {ref}",
    "please ship {ref} to a different address",
    "update the delivery address for {ref}",
    "I need {ref} sent to my new address",
    "send {ref} to <STREET_ADDRESS_1> instead",
    "wrong address on {ref}, please fix",
    "change the shipping address of {ref} to <STREET_ADDRESS_1>",
    "can you redirect {ref} to my office",
    "I moved, please change where {ref} goes",
    "deliver {ref} to <STREET_ADDRESS_1>",
    # the destination without the word "address" (issue 12, 2026-12-02)
    "I'd like {ref} delivered to my office rather than home",
    "alter the destination of {ref}",
    "{ref} should go to my neighbour's house instead",
    "make {ref} arrive at my work",
    "divert {ref} to the pickup point",
    "modify the shipping destination for {ref}",
    "I'm away, get {ref} delivered to my sister's",
    "can you make {ref} go to another location",
]
_CHANGE_ACCOUNT_ADDRESS = [
    "update the address on my account",
    "change my account address",
    "change the address in my profile",
    "update my profile address to <STREET_ADDRESS_1>",
    "my account has my old address, please update it",
    "please change my billing address",
    "set my default address to <STREET_ADDRESS_1>",
    "I moved, update my account address",
    "change my saved address",
    "edit the address on my account please",
]
_HANDOFF = [
    "talk to a human",
    "I want to speak to a person",
    "agent please",
    "can I talk to someone real",
    "connect me to a representative",
    "get me a human",
    "I need a real person",
    "transfer me to an agent",
    "let me chat with support staff",
    "is there a human I can talk to",
    "speak to customer service",
    "human please",
    "operator",
    "I'd like to talk to your team",
    "put me through to someone",
]


def intent_phrasings() -> list[tuple[str, str]]:
    """(text, label) pairs for training; every label in LABELS is represented."""
    rows: list[tuple[str, str]] = []
    rows += [(t, QUESTION) for t in _fill(_QUESTION_TEMPLATES, topic=_POLICY_TOPICS)]
    rows += [(t, QUESTION) for t in _POLICY_QUESTIONS]
    rows += [(t, QUESTION) for t in _fill(_CONDITIONAL_TEMPLATES, verb=_CONDITIONAL_VERBS, condition=_CONDITIONS)]
    rows += [(t, QUESTION) for t in _fill(_GENERAL_TEMPLATES, v=_GENERAL_VERBS, s=_GENERAL_SUBJECTS)[::3]]
    rows += [(t, QUESTION) for t in _TIMING_QUESTIONS]
    rows += [(t, QUESTION) for t in _fill(_OWN_HYPOTHETICALS, own=_OWN_REFS)]
    rows += [(t, QUESTION) for t in _ORDERS_IN_GENERAL]
    rows += [(t, QUESTION) for t in _fill(_OTHERS_BUY, others=_OTHERS)]
    rows += [(t, QUESTION) for t in _fill(_WORN_QUESTIONS, item=_WORN_ITEMS)]
    rows += [(t, "get_order") for t in _fill(_DESTINATION_LOOKUPS, ref=_ORDER_REFS)]
    rows += [(t, "return_order") for t in _fill(_WORN_RETURN_REQUESTS, own=_OWN_REFS)]
    rows += [(t, SMALLTALK) for t in _SMALLTALK]
    rows += [(t, "get_order") for t in _fill(_GET_ORDER, ref=_ORDER_REFS)]
    rows += [(t, "list_my_orders") for t in _LIST]
    rows += [(t, "cancel_order") for t in _fill(_CANCEL, ref=_ORDER_REFS)]
    rows += [(t, "return_order") for t in _fill(_RETURN, ref=_ORDER_REFS)]
    rows += [(t, "change_order_address") for t in _fill(_CHANGE_ORDER_ADDRESS, ref=_ORDER_REFS)]
    rows += [(t, "change_account_address") for t in _CHANGE_ACCOUNT_ADDRESS]
    rows += [(t, "handoff_to_human") for t in _HANDOFF]
    for action, templates in _OWN_ORDER_REQUESTS.items():
        rows += [(t, action) for t in _fill(templates, own=_OWN_REFS)]
    # Casing and punctuation vary in real chat; the embedding barely cares, but the question mark
    # is a real signal between "cancel my order?" shapes and statements.
    variants = []
    for text, label in rows:
        variants.append((text[0].upper() + text[1:] + ("?" if label == QUESTION else ""), label))
    return rows + variants
