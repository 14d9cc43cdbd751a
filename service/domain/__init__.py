"""The moderation domain: events, the comment aggregate and the guidelines.

Standard library only, so the rules can be tested and reasoned about without a database.
"""
