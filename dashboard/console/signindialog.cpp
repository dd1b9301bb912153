#include "signindialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

SignInDialog::SignInDialog(const QString &server, QWidget *parent)
    : QDialog(parent)
    , m_username(new QLineEdit(this))
    , m_password(new QLineEdit(this))
    , m_remember(new QCheckBox(tr("Keep the password in the system keyring"), this))
    , m_message(new QLabel(this))
{
    setWindowTitle(tr("Sign in to %1").arg(server));
    m_password->setEchoMode(QLineEdit::Password);
    m_remember->setChecked(true);
    m_message->setWordWrap(true);
    m_message->setTextFormat(Qt::PlainText); // Parse's refusal, quoted
    m_message->setStyleSheet(QStringLiteral("color: #922b21;"));
    m_message->hide();

    auto *form = new QFormLayout;
    form->addRow(tr("&User:"), m_username);
    form->addRow(tr("&Password:"), m_password);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Sign in"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto updateOk = [this, buttons] {
        buttons->button(QDialogButtonBox::Ok)->setEnabled(!m_username->text().isEmpty() && !m_password->text().isEmpty());
    };
    connect(m_username, &QLineEdit::textChanged, this, updateOk);
    connect(m_password, &QLineEdit::textChanged, this, updateOk);
    updateOk();

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(tr("Sign in as a Parse user of <b>%1</b>.").arg(server.toHtmlEscaped()), this));
    layout->addWidget(m_message);
    layout->addLayout(form);
    layout->addWidget(m_remember);
    layout->addWidget(buttons);
    setMinimumWidth(380);
}

void SignInDialog::setUsername(const QString &username)
{
    m_username->setText(username);
    if (!username.isEmpty())
        m_password->setFocus();
}

void SignInDialog::setMessage(const QString &message)
{
    m_message->setText(message);
    m_message->setVisible(!message.isEmpty());
}

QString SignInDialog::username() const
{
    return m_username->text().trimmed();
}

QString SignInDialog::password() const
{
    return m_password->text();
}

bool SignInDialog::remember() const
{
    return m_remember->isChecked();
}
