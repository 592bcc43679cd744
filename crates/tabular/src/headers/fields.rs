//! The record fields an import may fill, with the headers that name them in English and
//! Russian. Headers are compared after [`normalize`](super::normalize), so one spelling of each
//! name is enough (a test checks that no header names two fields of one record).

use super::FieldSpec;

const fn spec(field: &'static str, synonyms: &'static [&'static str]) -> FieldSpec {
    FieldSpec {
        field,
        synonyms,
        fallbacks: &[],
    }
}

const fn with_fallbacks(
    field: &'static str,
    synonyms: &'static [&'static str],
    fallbacks: &'static [&'static str],
) -> FieldSpec {
    FieldSpec {
        field,
        synonyms,
        fallbacks,
    }
}

const TAGS: &[&str] = &["tag", "labels", "Теги", "Тег", "Метки", "Метка"];
const WEBSITE: &[&str] = &["site", "web", "url", "Сайт", "Веб-сайт"];

/// The fields a contact import may fill.
pub fn contact_fields() -> &'static [FieldSpec] {
    const FIELDS: &[FieldSpec] = &[
        with_fallbacks(
            "fullName",
            &[
                "name",
                "contact name",
                "ФИО",
                "Имя",
                "Полное имя",
                "Имя контакта",
                "Имя и фамилия",
            ],
            &["contact", "Контакт", "Клиент"],
        ),
        spec(
            "email",
            &[
                "mail",
                "email address",
                "Почта",
                "Эл. почта",
                "Электронная почта",
                "Адрес электронной почты",
                "Емейл",
                "Имейл",
            ],
        ),
        spec(
            "phone",
            &[
                "phone number",
                "telephone",
                "tel",
                "mobile",
                "Телефон",
                "Тел",
                "Номер телефона",
                "Мобильный",
                "Мобильный телефон",
                "Моб. телефон",
            ],
        ),
        spec(
            "position",
            &["job title", "title", "role", "Должность", "Позиция"],
        ),
        spec(
            "companyName",
            &[
                "company",
                "organization",
                "organisation",
                "Компания",
                "Организация",
                "Название компании",
                "Фирма",
            ],
        ),
        spec("tags", TAGS),
        spec(
            "notes",
            &[
                "note",
                "comment",
                "comments",
                "description",
                "Заметки",
                "Заметка",
                "Примечание",
                "Примечания",
                "Комментарий",
                "Описание",
            ],
        ),
        spec(
            "social.telegram",
            &["telegram", "tg", "Телеграм", "Телеграмм"],
        ),
        spec("social.whatsapp", &["whatsapp", "wa", "Ватсап", "Вотсап"]),
        spec("social.vk", &["vk", "vkontakte", "ВК", "ВКонтакте"]),
        spec("social.instagram", &["instagram", "insta", "Инстаграм"]),
        spec("social.linkedin", &["linkedin", "Линкедин"]),
        spec("social.facebook", &["facebook", "fb", "Фейсбук"]),
        spec("social.website", WEBSITE),
        spec(
            "ownerEmail",
            &[
                "owner",
                "responsible",
                "Ответственный",
                "Ответственный менеджер",
                "Владелец",
            ],
        ),
    ];
    FIELDS
}

/// The fields a company import may fill.
pub fn company_fields() -> &'static [FieldSpec] {
    const FIELDS: &[FieldSpec] = &[
        spec(
            "name",
            &[
                "company",
                "company name",
                "organization",
                "organisation",
                "Название",
                "Наименование",
                "Компания",
                "Название компании",
                "Организация",
            ],
        ),
        spec("website", WEBSITE),
        spec(
            "industry",
            &[
                "sector",
                "Отрасль",
                "Индустрия",
                "Сфера",
                "Сфера деятельности",
            ],
        ),
        spec(
            "email",
            &["mail", "Почта", "Эл. почта", "Электронная почта"],
        ),
        spec("phone", &["telephone", "tel", "Телефон", "Тел"]),
        spec(
            "address",
            &["Адрес", "Фактический адрес", "Юридический адрес"],
        ),
        spec(
            "employees",
            &[
                "employee count",
                "number of employees",
                "headcount",
                "size",
                "Сотрудники",
                "Количество сотрудников",
                "Число сотрудников",
            ],
        ),
        spec(
            "notes",
            &[
                "note",
                "comment",
                "description",
                "Заметки",
                "Примечание",
                "Комментарий",
                "Описание",
            ],
        ),
        spec("tags", TAGS),
    ];
    FIELDS
}

/// The fields a deal import may fill. Pipeline, stage and people are named as the file names
/// them (a name, an id, an e-mail); resolving them is the import's job.
pub fn deal_fields() -> &'static [FieldSpec] {
    const FIELDS: &[FieldSpec] = &[
        spec(
            "number",
            &[
                "deal number",
                "no",
                "#",
                "№",
                "Номер",
                "Номер сделки",
                "№ сделки",
            ],
        ),
        spec(
            "title",
            &[
                "name",
                "deal",
                "deal name",
                "deal title",
                "Название",
                "Название сделки",
                "Наименование",
                "Сделка",
            ],
        ),
        spec(
            "amount",
            &[
                "sum",
                "value",
                "price",
                "budget",
                "total",
                "Сумма",
                "Сумма сделки",
                "Бюджет",
                "Стоимость",
                "Цена",
            ],
        ),
        spec("currency", &["Валюта"]),
        spec(
            "pipeline",
            &[
                "pipeline id",
                "pipeline name",
                "funnel",
                "Воронка",
                "Воронка продаж",
            ],
        ),
        with_fallbacks(
            "stage",
            &[
                "stage id",
                "stage name",
                "deal stage",
                "Стадия",
                "Стадия сделки",
                "Этап",
                "Этап сделки",
            ],
            &["status", "Статус", "Статус сделки"],
        ),
        with_fallbacks(
            "contactEmail",
            &[
                "email",
                "Email контакта",
                "Почта",
                "Почта контакта",
                "Эл. почта",
                "Электронная почта",
            ],
            &["contact", "Контакт"],
        ),
        spec("contactPhone", &["phone", "Телефон", "Телефон контакта"]),
        spec(
            "companyName",
            &[
                "company",
                "organization",
                "Компания",
                "Организация",
                "Название компании",
            ],
        ),
        spec(
            "assigneeEmail",
            &[
                "assignee",
                "assigned to",
                "assigned to id",
                "responsible",
                "owner",
                "manager",
                "Ответственный",
                "Ответственный менеджер",
                "Менеджер",
                "Исполнитель",
                "Владелец",
            ],
        ),
        spec(
            "expectedCloseAt",
            &[
                "close date",
                "expected close date",
                "closing date",
                "Дата закрытия",
                "Ожидаемая дата закрытия",
                "Планируемая дата закрытия",
            ],
        ),
        spec(
            "description",
            &[
                "notes",
                "note",
                "comment",
                "Описание",
                "Комментарий",
                "Примечание",
                "Заметки",
            ],
        ),
        spec("tags", TAGS),
        spec(
            "lostReason",
            &[
                "loss reason",
                "Причина отказа",
                "Причина проигрыша",
                "Причина",
            ],
        ),
    ];
    FIELDS
}

/// The fields a task import may fill.
pub fn task_fields() -> &'static [FieldSpec] {
    const FIELDS: &[FieldSpec] = &[
        spec(
            "title",
            &[
                "name",
                "task",
                "subject",
                "Название",
                "Название задачи",
                "Задача",
                "Тема",
            ],
        ),
        spec(
            "description",
            &[
                "notes",
                "details",
                "comment",
                "Описание",
                "Комментарий",
                "Примечание",
            ],
        ),
        spec("status", &["Статус"]),
        spec("priority", &["Приоритет", "Важность"]),
        spec("type", &["task type", "kind", "Тип", "Тип задачи"]),
        spec(
            "dueAt",
            &[
                "due",
                "due date",
                "deadline",
                "Срок",
                "Срок выполнения",
                "Крайний срок",
                "Дедлайн",
                "Дата выполнения",
            ],
        ),
        spec(
            "dealNumber",
            &["deal", "Сделка", "Номер сделки", "№ сделки"],
        ),
        spec("contactEmail", &["contact", "Контакт", "Email контакта"]),
        spec(
            "assigneeEmail",
            &[
                "assignee",
                "assigned to",
                "responsible",
                "Ответственный",
                "Исполнитель",
            ],
        ),
        spec("tags", TAGS),
    ];
    FIELDS
}
