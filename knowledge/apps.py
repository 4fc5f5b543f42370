from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from django.core.signals import setting_changed
        from django.db.models.signals import post_delete, post_save

        from knowledge.kb_cache import knowledge_settings_changed
        from knowledge.models import Article, ArticleQuestion, GlossaryEntry, KnowledgeBaseSettings, ProductWord

        # retrieval keeps these (and the articles' vocabulary) for a while per process: an edit
        # here applies at once
        for model in (GlossaryEntry, KnowledgeBaseSettings, Article, ArticleQuestion, ProductWord):
            post_save.connect(knowledge_settings_changed, sender=model, dispatch_uid=f"kb-cache-save-{model.__name__}")
            post_delete.connect(
                knowledge_settings_changed, sender=model, dispatch_uid=f"kb-cache-delete-{model.__name__}"
            )
        setting_changed.connect(knowledge_settings_changed, dispatch_uid="kb-cache-setting")
